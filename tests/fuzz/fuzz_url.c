/* fuzz_url.c — the small parsers of the control protocol besides its request
 * decoder (fuzz_control.c, the control helper's): listener URLs from the
 * manifest's `control =` and the client's --url, signal names of `keel
 * kill`, and the /etc/group lookup of control_group.
 *
 * fuzz-requires: src/proto.c src/parse.c
 *
 * Input: the whole input is a URL, a signal and a group name; for the group
 * lookup it is also the /etc/group text.
 *
 * The same input is also a `metrics =` / `syslog =` URL (proto_inet_url_parse).
 *
 * Invariants beyond "no crash, no leak": a parsed URL has its strings
 * NUL-terminated, a tcp port 1..65535, a unix path that is absolute, a
 * listener fd >= 0; a parsed signal has a name that parses back to it.
 */
#include "fuzz.h"

#include <errno.h>
#include <sys/socket.h>

#include "keel/parse.h"
#include "keel/proto.h"
#include "keel/user.h"

static void check_url(const char *s, bool server)
{
    struct proto_url u;
    struct kerr err = { 0 };
    if (proto_url_parse(s, server, &u, &err) < 0) {
        FUZZ_ASSERT(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
        return;
    }
    FUZZ_ASSERT(memchr(u.path, '\0', sizeof u.path) && memchr(u.host, '\0', sizeof u.host));
    switch (u.kind) {
    case PROTO_URL_UNIX:
        FUZZ_ASSERT(u.path[0] == '/');
        break;
    case PROTO_URL_TCP:
        FUZZ_ASSERT(u.port >= 1 && u.port <= 65535);
        FUZZ_ASSERT(u.family == AF_INET || u.family == AF_INET6);
        break;
    case PROTO_URL_VSOCK:
        FUZZ_ASSERT(u.port >= 1);
        break;
    case PROTO_URL_FD:
        FUZZ_ASSERT(server && u.fd >= 0);
        break;
    case PROTO_URL_UDP:
        FUZZ_ASSERT(!"proto_url_parse never gives udp");
        break;
    }
}

/* `metrics =` and `syslog =`: tcp:// (and udp://) with a numeric address
 * and a port, whose socket address has that family and port. */
static void check_inet_url(const char *s, bool udp)
{
    struct proto_url u;
    struct kerr err = { 0 };
    if (proto_inet_url_parse(s, udp, "syslog", &u, &err) < 0) {
        FUZZ_ASSERT(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
        return;
    }
    FUZZ_ASSERT(u.kind == PROTO_URL_TCP || (udp && u.kind == PROTO_URL_UDP));
    FUZZ_ASSERT(u.port >= 1 && u.port <= 65535);
    struct sockaddr_storage ss;
    socklen_t len = proto_url_sockaddr(&u, &ss);
    FUZZ_ASSERT(ss.ss_family == u.family && len > 0 && len <= sizeof ss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    check_url(s, true);
    check_url(s, false);
    check_inet_url(s, true);
    check_inet_url(s, false);

    int sig;
    if (parse_signal_anycase(s, &sig, NULL) == 0) {
        const char *name = signal_name_std(sig);
        int back;
        if (name)
            FUZZ_ASSERT(parse_signal(name, &back, NULL) == 0 && back == sig);
    }

    /* control_group is resolved by user.c's group lookup: 0 or -ENOENT (a
     * malformed entry is skipped), and never the "no change" id. */
    gid_t gid;
    int r = user_group_gid(s, "staff", &gid);
    FUZZ_ASSERT(r == 0 || r == -ENOENT);
    if (r == 0)
        FUZZ_ASSERT(gid != (gid_t)-1);
    r = user_group_gid(s, s, &gid);
    FUZZ_ASSERT(r == 0 || r == -ENOENT);
    free(s);
    return 0;
}
