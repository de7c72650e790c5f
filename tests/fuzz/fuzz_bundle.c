/* fuzz_bundle.c — what `keel update` reads from a client: a bundle streamed
 * through the strict ustar reader (index, signature, members, digests), the
 * index parser on its own, and the slot state file.
 *
 * fuzz-requires: src/bundle.c src/slot.c
 *
 * Input: the first byte picks the chunk size (1..256) the bundle is fed in;
 * the rest is the bundle, and also an index and a state file.
 *
 * Invariants beyond "no crash, no leak": the sink sees members only in index
 * order, each ended member's byte count is the index's size, and with a key
 * no payload byte reaches the sink at all (no input here is signed by it);
 * a parsed index has 1..BUNDLE_MAX_MEMBERS valid names and formats back to
 * the same bytes; a parsed state formats back to the same bytes.
 */
#include "fuzz.h"

#include <errno.h>

#include "keel/bundle.h"
#include "keel/slot.h"

struct seen {
    const struct bundle_index *ix;
    size_t next, bytes;
    uint64_t cur;
    bool in;
};

static int s_begin(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    struct seen *s = ctx;
    FUZZ_ASSERT(!s->in);
    s->in = true;
    s->cur = 0;
    return 0;
}

static int s_data(void *ctx, const void *buf, size_t n, struct kerr *err)
{
    struct seen *s = ctx;
    FUZZ_ASSERT(s->in);
    s->cur += n;
    s->bytes += n;
    return 0;
}

static int s_end(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    struct seen *s = ctx;
    FUZZ_ASSERT(s->in && e->size == s->cur);
    s->in = false;
    s->next++;
    return 0;
}

static void feed(const uint8_t *data, size_t size, size_t chunk, const unsigned char *key)
{
    struct seen s = { 0 };
    struct bundle_sink sink = { s_begin, s_data, s_end, &s };
    struct bundle_reader *r = bundle_reader_new(key, &sink);
    if (!r)
        return;
    struct kerr e = { 0 };
    int ret = 0;
    for (size_t o = 0; o < size && ret == 0; o += chunk)
        ret = bundle_reader_feed(r, data + o, o + chunk > size ? size - o : chunk, &e);
    if (ret == 0)
        ret = bundle_reader_finish(r, &e);
    if (ret < 0)
        FUZZ_ASSERT(e.msg[0] != '\0');
    else
        FUZZ_ASSERT(bundle_reader_index(r) && s.next == bundle_reader_index(r)->n);
    if (key)
        FUZZ_ASSERT(s.bytes == 0 && ret < 0);
    bundle_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    feed(data + 1, size - 1, chunk, NULL);
    static const unsigned char key[BUNDLE_PUBKEY_BYTES] = { 0x3d, 0x40, 0x17, 0xc3 };
    feed(data + 1, size - 1, 512, key);

    struct bundle_index *ix = malloc(sizeof *ix);
    struct kerr e = { 0 };
    char *s = fuzz_str(data + 1, size - 1);
    if (ix && bundle_index_parse(s, size - 1, ix, &e) == 0) {
        FUZZ_ASSERT(ix->n >= 1 && ix->n <= BUNDLE_MAX_MEMBERS);
        for (size_t i = 0; i < ix->n; i++)
            FUZZ_ASSERT(bundle_member_name_ok(ix->e[i].name));
        char *f = bundle_index_format(ix);
        FUZZ_ASSERT(f && strlen(f) == size - 1 && memcmp(f, s, size - 1) == 0);
        free(f);
    }
    free(ix);
    struct slot_state st;
    if (slot_state_parse(s, size - 1, &st, &e) == 0) {
        char buf[SLOT_STATE_MAX];
        int n = slot_state_format(&st, buf, sizeof buf);
        FUZZ_ASSERT(n > 0 && (size_t)n == size - 1 && memcmp(buf, s, size - 1) == 0);
        for (int ev = SLOT_EV_INSTALL; ev <= SLOT_EV_ROLLBACK; ev++) {
            struct slot_state t = st;
            if (slot_step(&t, (enum slot_event)ev) == 0)
                FUZZ_ASSERT(t.trying == SLOT_NONE || t.trying != t.active);
        }
    }
    free(s);
    return 0;
}
