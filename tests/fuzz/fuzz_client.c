/* fuzz_client.c — a server's answers (any bytes: a hostile server, or
 * whatever answers at the tcp:// or vsock:// address the user gives `keel`)
 * through the client's printers (client_print_answer): keel ps, stats,
 * status, events, apply, the server's error messages and keel logs on a
 * terminal.  What they print goes to the user's terminal, which obeys the
 * escape sequences it is sent.
 *
 * fuzz-requires: src/client.c src/output.c src/json.c
 *
 * Input: one byte picking the answer's kind (client.h's enum client_answer),
 * then the answer, parsed as the client parses it (json_parse_ex with
 * JSON_PARSE_FLOAT).
 *
 * Invariants beyond "no crash, no leak": what is printed holds no C0
 * control but newline and tab, no DEL, no C1 control (U+0080..U+009F), and
 * is well-formed UTF-8 (every string of the server's is escaped as \xNN
 * where it would be one of those).  keel logs into a file or a pipe writes
 * the bytes as logged, by design (client.h): not a printer checked here.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "keel/client.h"
#include "keel/json.h"

#define KINDS (CLIENT_ANSWER_LOG_LINE + 1)

static bool terminal_safe(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)
            return false;
        /* U+0080..U+009F in UTF-8: C2 80..C2 9F. */
        if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return false;
    }
    return json_utf8_valid((const char *)s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum client_answer what = (enum client_answer)(data[0] % KINDS);
    char *text = fuzz_exact(data + 1, size - 1);
    struct json_value *answer = NULL;
    struct kerr err = { 0 };
    int r = json_parse_ex(text, size - 1, 1u << 20, 100000, JSON_PARSE_FLOAT, &answer, &err);
    free(text);
    if (r < 0)
        return 0;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    FUZZ_ASSERT(f != NULL);
    r = client_print_answer(f, what, answer);
    FUZZ_ASSERT(r == 0 || r == 1);
    FUZZ_ASSERT(fclose(f) == 0);
    FUZZ_ASSERT(terminal_safe((const unsigned char *)out, len));
    free(out);
    json_free(answer);
    return 0;
}
