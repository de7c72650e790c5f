/* fuzz_sntp.c — what the SNTP client reads from the network (a reply
 * datagram, checked against the request's nonce), the offset arithmetic over
 * the four timestamps, the manifest's `ntp` servers and the saved clock file.
 *
 * fuzz-requires: src/sntp.c src/parse.c src/timesync.c
 *
 * Input: the first 8 bytes are the request's nonce, the rest the datagram;
 * the first 32 bytes are also four timestamps for sntp_offset; the whole
 * input is also a server string and a clock file's text.
 *
 * Invariants beyond "no crash, no leak": an accepted reply carries the nonce
 * as its origin, a stratum 1..15 and no leap indicator 3; a refused one says
 * why; an accepted offset has a delay in [0, max]; eras round-trip (a
 * timestamp converted to Unix time near a pivot converts back to itself); a
 * parsed server has a port; a saved time is within [2000, 2200).
 */
#include "fuzz.h"

#include <errno.h>
#include <netinet/in.h>

#include "keel/parse.h"
#include "keel/sntp.h"
#include "keel/timesync.h"

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 8) {
        uint64_t nonce = get64(data);
        struct sntp_reply r;
        char why[PARSE_WHY_MAX] = "";
        int rc = sntp_parse_reply(data + 8, size - 8, nonce, &r, why);
        if (rc == 0) {
            FUZZ_ASSERT(get64(data + 8 + 24) == nonce);
            FUZZ_ASSERT(r.stratum >= 1 && r.stratum <= 15 && r.leap != 3);
        } else {
            FUZZ_ASSERT(rc == -EBADMSG || rc == -EPROTO || rc == -ECONNREFUSED);
            FUZZ_ASSERT(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
        }
        /* Eras: within 60 years of the pivot the conversion is exact to a ns. */
        int64_t pivot = (int64_t)(nonce % (4000000000ULL)) * 1000000000LL;
        int64_t u = sntp_to_unix_ns(nonce, pivot);
        int64_t d = u > pivot ? u - pivot : pivot - u;
        FUZZ_ASSERT(d <= (1LL << 31) * 1000000000LL + 1000000000LL);
        if (u >= 0)
            FUZZ_ASSERT((sntp_from_unix_ns(u) >> 32) == (nonce >> 32));
    }
    if (size >= 32) {
        int64_t t[4], off, delay;
        for (int i = 0; i < 4; i++)
            t[i] = (int64_t)get64(data + 8 * i);
        char why[PARSE_WHY_MAX] = "";
        if (sntp_offset(t[0], t[1], t[2], t[3], 2000000000LL, &off, &delay, why) == 0)
            FUZZ_ASSERT(delay >= 0 && delay <= 2000000000LL);
    }
    char *s = fuzz_str(data, size);
    struct sockaddr_in a;
    if (sntp_parse_server(s, &a, NULL) == 0)
        FUZZ_ASSERT(a.sin_family == AF_INET && a.sin_port != 0);
    int64_t sec;
    if (timesync_saved_parse(s, &sec) == 0)
        FUZZ_ASSERT(sec >= 946684800LL && sec < 7258118400LL);
    free(s);
    return 0;
}
