/* fuzz_seccomp.c — the custom seccomp filter format (seccomp = PATH) and the
 * rlimit values (rlimit = NAME=SOFT[:HARD]): the file is the operator's, but
 * a typo in it must be a FILE:LINE error, and whatever parses must compile.
 *
 * fuzz-requires: src/seccomp.c src/seccomp_profile.c src/parse.c
 *
 * Invariants beyond "no crash, no leak": a rejected profile has at least one
 * "fuzz.seccomp:LINE: message" with LINE within the input; an accepted one
 * compiles with libseccomp into a non-empty program; an accepted rlimit has
 * soft <= hard.  Each input line is also given to parse_rlimit.
 */
#include "fuzz.h"

#include <errno.h>

#include "keel/parse.h"
#include "keel/rlimit.h"
#include "keel/seccomp.h"

#define NAME "fuzz.seccomp"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    lines += size && data[size - 1] != '\n';

    struct seccomp_profile p;
    char **errors = NULL;
    int r = seccomp_profile_parse(NAME, (const char *)data, size, &p, &errors);
    if (r < 0) {
        FUZZ_ASSERT(errors && errors[0]);
        for (size_t i = 0; errors[i]; i++) {
            FUZZ_ASSERT(strncmp(errors[i], NAME ":", strlen(NAME ":")) == 0);
            unsigned long line = strtoul(errors[i] + strlen(NAME ":"), NULL, 10);
            FUZZ_ASSERT(line >= 1 && line <= (lines ? lines : 1));   /* an empty file: line 1 */
            free(errors[i]);
        }
        free(errors);
    } else {
        FUZZ_ASSERT(errors == NULL);
        struct seccomp_prog prog = { 0 };
        struct kerr err = { 0 };
        if (seccomp_build_profile(&p, &prog, &err) == 0) {
            FUZZ_ASSERT(prog.len > 0 && prog.insns != NULL);
            seccomp_prog_free(&prog);
        }
    }
    seccomp_profile_free(&p);

    const uint8_t *q = data;
    size_t left = size;
    while (left) {
        char *line;
        fuzz_cut(&q, &left, "\n", &line);
        struct rlimit_spec rl;
        char why[PARSE_WHY_MAX];
        memset(why, 'x', sizeof why);
        r = parse_rlimit(line, &rl, why);
        if (r == 0)
            FUZZ_ASSERT(rl.soft <= rl.hard && parse_rlimit_name(rl.resource) != NULL);
        else
            FUZZ_ASSERT((r == -EINVAL || r == -ERANGE) && memchr(why, '\0', sizeof why) && why[0]);
        free(line);
    }
    return 0;
}
