/* fuzz.h — what every keel fuzz target shares.
 *
 * A target defines LLVMFuzzerTestOneInput() and nothing else global.  It is
 * linked either with libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) or with
 * tests/fuzz/driver.c (gcc, `make check` replays the corpus), so it uses no
 * libFuzzer API beyond that entry point.
 *
 * Contract of a target: it never leaks, never crashes, and calls
 * FUZZ_ASSERT() for each invariant of the parser's result, so that a wrong
 * answer (not only a memory error) becomes a crash the fuzzer keeps.
 * The input bytes are never NUL-terminated: targets copy them with
 * fuzz_str() so that a parser reading one byte past the end is caught.
 *
 * A target whose module may not be linked yet names the source files it needs
 * in a line of its opening comment:
 *     fuzz-requires: src/kmod.c
 * tests/fuzz/run and tests/fuzz/replay skip the target (with a "skip" line)
 * while one of them is missing.
 */
#ifndef KEEL_FUZZ_H
#define KEEL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of a parser's result: a violation is a crash the fuzzer keeps. */
#define FUZZ_ASSERT(cond)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* A heap copy of data[0..n) with a NUL after it (exactly n + 1 bytes, so an
 * over-read past the NUL is caught by ASan).  Aborts on ENOMEM: a fuzz input
 * is small. */
static inline char *fuzz_str(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    FUZZ_ASSERT(s != NULL);
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Cuts the input at the first occurrence of `sep` (a string): *head gets the
 * part before it, and data/size move past it.  Without `sep`, head takes
 * everything.  The caller frees *head. */
static inline void fuzz_cut(const uint8_t **data, size_t *size, const char *sep, char **head)
{
    size_t sl = strlen(sep);
    const uint8_t *p = *size >= sl ? memmem(*data, *size, sep, sl) : NULL;
    size_t n = p ? (size_t)(p - *data) : *size;
    *head = fuzz_str(*data, n);
    *data += p ? n + sl : n;
    *size -= p ? n + sl : n;
}

/* A stream that discards what is written (for the printers of parsed data:
 * they must format without crashing, their text is not checked here). */
static inline FILE *fuzz_devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "we");
    FUZZ_ASSERT(f != NULL);
    return f;
}

/* Exactly n bytes of data on the heap, no NUL after them (a parser given a
 * length must not read past it; ASan catches a read at m[n]). */
static inline char *fuzz_exact(const uint8_t *data, size_t n)
{
    char *m = malloc(n ? n : 1);
    FUZZ_ASSERT(m != NULL);
    if (n)
        memcpy(m, data, n);
    else
        m[0] = '\0';   /* never read: its length is 0 */
    return m;
}

/* Equal strings, NULL equal only to NULL (round-trip checks). */
static inline int fuzz_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Equal NULL-ended string vectors, NULL equal only to NULL. */
static inline int fuzz_same_strv(char **a, char **b)
{
    size_t i = 0;
    if (!a || !b)
        return a == b;
    for (; a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return !a[i] && !b[i];
}

#endif
