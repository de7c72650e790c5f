/* unit.h — a minimal test harness for keel's unit tests.
 *
 * A test file defines TEST(name) functions and lists them in a main() that
 * calls RUN(name).  Each RUN prints exactly one result line: "ok - file: name",
 * "not ok - file: name" (the failed checks above it) or, when the body called
 * SKIP("reason") and no check had failed, "skip - file: name: reason".  A
 * skip is never also reported ok: check-all counts skips, and CI forbids them.
 * unit_done() returns the exit status.
 */
#ifndef KEEL_UNIT_H
#define KEEL_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_passed, unit_failed, unit_skipped;
static char unit_skip_reason[256];   /* set by SKIP; empty when the test ran */

#define TEST(name) static void test_##name(void)

#define CHECK(cond) do { \
    if (!(cond)) { \
        unit_failed_checks++; \
        fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    } } while (0)

#define CHECK_INT(a, b) do { \
    long long ua_ = (long long)(a), ub_ = (long long)(b); \
    if (ua_ != ub_) { \
        unit_failed_checks++; \
        fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, ua_, #b, ub_); \
    } } while (0)

#define CHECK_STR(a, b) do { \
    const char *sa_ = (a), *sb_ = (b); \
    if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) { \
        unit_failed_checks++; \
        fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
    } } while (0)

/* SKIP("reason", ...): ends the test body; it is reported as a skip with the
 * reason (a printf format).  Only for a missing optional feature, detected. */
#define SKIP(...) do { \
    snprintf(unit_skip_reason, sizeof unit_skip_reason, __VA_ARGS__); \
    if (!unit_skip_reason[0]) \
        snprintf(unit_skip_reason, sizeof unit_skip_reason, "(no reason given)"); \
    return; \
    } while (0)

#define RUN(name) do { \
    unit_failed_checks = 0; \
    unit_skip_reason[0] = '\0'; \
    test_##name(); \
    if (unit_failed_checks) { unit_failed++; printf("not ok - %s: %s\n", __FILE__, #name); } \
    else if (unit_skip_reason[0]) { \
        unit_skipped++; printf("skip - %s: %s: %s\n", __FILE__, #name, unit_skip_reason); } \
    else { unit_passed++; printf("ok - %s: %s\n", __FILE__, #name); } \
    fflush(stdout); \
    } while (0)

static inline int unit_done(void)
{
    return unit_failed ? 1 : 0;
}

#endif
