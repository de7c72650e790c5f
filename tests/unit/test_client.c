/* test_client.c — the client's printers (client_print_answer): what keel ps,
 * status, events, apply, the server's errors and keel logs on a terminal
 * print from a server's answer, and that no string of the server's reaches
 * the terminal with its control characters (a hostile server's escape
 * sequences are shown as \xNN). */
#include "unit.h"

#include <stdlib.h>

#include "keel/client.h"
#include "keel/json.h"

/* What client_print_answer prints for the answer JSON (heap; "(bad json)"
 * when the test's own JSON does not parse). */
static char *printed(enum client_answer what, const char *json, int *ret)
{
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    if (json_parse_ex(json, strlen(json), 1 << 20, 10000, JSON_PARSE_FLOAT, &v, &err) < 0)
        return strdup("(bad json)");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        json_free(v);
        return strdup("(no memstream)");
    }
    *ret = client_print_answer(f, what, v);
    fclose(f);
    json_free(v);
    return out;
}

#define CHECK_PRINTS(what, json, want, want_ret) do { \
    int r_ = -1; \
    char *o_ = printed(what, json, &r_); \
    CHECK_STR(o_, want); \
    CHECK_INT(r_, want_ret); \
    free(o_); \
    } while (0)

TEST(ps_table)
{
    CHECK_PRINTS(CLIENT_ANSWER_PS,
                 "{\"containers\":[{\"name\":\"web\",\"state\":\"running\",\"pid\":42,\"uptime_ms\":61000,"
                 "\"restarts\":1,\"last_exit\":{\"code\":3},\"network\":\"bridge\",\"ip\":\"10.88.0.2\","
                 "\"ports\":[\"8080->80/tcp\"],\"health\":\"none\"}]}",
                 "NAME  STATE    PID  UPTIME  RESTARTS  EXIT  NETWORK  IP         PORTS         HEALTH\n"
                 "web   running  42   1m1s    1         3     bridge   10.88.0.2  8080->80/tcp  -\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_PS, "{\"containers\":{}}", "", 1);
}

/* The hole: a name the manifest cannot have, sent by a server, set the
 * terminal's title and cleared the screen (seen on the old binary with a
 * fake server: keel ps printed ESC ] 0 ; ... BEL raw). */
TEST(ps_escaped)
{
    CHECK_PRINTS(CLIENT_ANSWER_PS,
                 "{\"containers\":[{\"name\":\"\\u001b]0;pwned\\u0007w\",\"state\":\"up\\u001b[2J\",\"pid\":0,"
                 "\"ports\":[\"\\u009b1m\",\"\\u007f\"],\"last_exit\":{\"signal\":\"SIG\\r\"},\"health\":\"h\\n\"}]}",
                 "NAME               STATE      PID  UPTIME  RESTARTS  EXIT     NETWORK  IP  PORTS            HEALTH\n"
                 "\\x1b]0;pwned\\x07w  up\\x1b[2J  -    -       0         SIG\\x0d  -        -   \\xc2\\x9b1m,\\x7f  h\\x0a\n",
                 0);
    /* UTF-8 text is text. */
    CHECK_PRINTS(CLIENT_ANSWER_STATS, "{\"stats\":[{\"name\":\"caf\\u00e9\",\"available\":false,\"error\":\"\\t\"}]}",
                 "NAME   CPU  MEM  MEM-PEAK  PIDS  IO-READ  IO-WRITE  NOTE\n"
                 "café  -    -    -         -     -        -         \t\n", 0);
}

TEST(status_escaped)
{
    CHECK_PRINTS(CLIENT_ANSWER_STATUS,
                 "{\"container\":{\"name\":\"web\",\"uptime_ms\":1000,\"k\\u001b\":\"v\\u001b[H\",\"ports\":[\"a\\u0007\"],"
                 "\"exit\":{\"signal\":\"\\u001b\"},\"none\":null,\"ok\":true,\"n\":-1}}",
                 "name         web\n"
                 "uptime       1s\n"
                 "k\\x1b        v\\x1b[H\n"
                 "ports        a\\x07\n"
                 "exit         \\x1b\n"
                 "none         -\n"
                 "ok           yes\n"
                 "n            -1\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_UPLINKS,
                 "{\"machine\":{\"uplinks\":[{\"interface\":\"eth0\\u001b\",\"address\":\"10.0.2.15/24\","
                 "\"expires_in_ms\":3600000}]}}",
                 "eth0\\x1b\n  address      10.0.2.15/24\n  expires in   1h0m\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_UPLINKS, "{\"machine\":{}}", "no [interface] uplinks\n", 0);
    /* A text of lines keeps its newlines, nothing else. */
    CHECK_PRINTS(CLIENT_ANSWER_SLOTS, "{\"slots\":\"slot a: good\\n\\u001b[H\\r\\n\"}",
                 "slot a: good\n\\x1b[H\\x0d\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_SLOTS, "{}", "no payload update on this machine\n", 0);
}

TEST(events_apply_errors_escaped)
{
    CHECK_PRINTS(CLIENT_ANSWER_EVENT,
                 "{\"time_ms\":1700000000123,\"name\":\"w\\u001b\",\"event\":\"exited\",\"exit\":{\"code\":1},"
                 "\"pid\":7,\"detail\":\"d\\u0008\"}",
                 "2023-11-14T22:13:20.123Z w\\x1b exited 1 pid=7 d\\x08\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_APPLY, "{\"ok\":true,\"plan\":\"+ web\\n\\u001b[2J\\n\",\"outcome\":\"done\\u0007\"}",
                 "+ web\n\\x1b[2J\ndone\\x07\n", 0);
    CHECK_PRINTS(CLIENT_ANSWER_APPLY, "{\"ok\":false,\"error\":\"line 3\\u001b]52;c;AA\\u0007\"}",
                 "keel: error: apply: line 3\\x1b]52;c;AA\\x07\n", 1);
    CHECK_PRINTS(CLIENT_ANSWER_ERROR, "{\"ok\":false,\"error\":\"no container \\u001b[31mx\"}",
                 "keel: error: no container \\x1b[31mx\n", 1);
    CHECK_PRINTS(CLIENT_ANSWER_ERROR, "{\"ok\":false}", "keel: error: request failed\n", 1);
    /* keel logs on a terminal: escaped (into a file or a pipe: raw, by design). */
    CHECK_PRINTS(CLIENT_ANSWER_LOG_LINE, "{\"line\":\"GET /\\t200 \\u001b[0m\"}", "GET /\t200 \\x1b[0m\n", 0);
}

int main(void)
{
    RUN(ps_table);
    RUN(ps_escaped);
    RUN(status_escaped);
    RUN(events_apply_errors_escaped);
    return unit_done();
}
