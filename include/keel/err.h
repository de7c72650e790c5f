/* err.h — keel's error contract.
 *
 * Every fallible function below main returns 0 (or a non-negative value) on
 * success and a negative errno on failure, and fills the caller-owned
 * `struct kerr` passed as its last argument with one human sentence that
 * says what could not be done, on what, and why:
 *
 *     cannot mount overlay at /run/keel/web/root: No such file or directory
 *
 * Callers add context as the error travels up with kerr_prefix().  Nothing
 * below main calls exit() or abort(): the supervisor (or the CLI) decides
 * what an error means.  A NULL `struct kerr *` is allowed and discards the
 * message.
 */
#ifndef KEEL_ERR_H
#define KEEL_ERR_H

#include <stddef.h>

#define KERR_MSG_MAX 512

struct kerr {
    int code;                  /* positive errno, 0 when unset */
    char msg[KERR_MSG_MAX];    /* NUL-terminated sentence, no trailing newline */
};

/* Records `fmt` plus ": strerror(code)" (when code != 0) and returns -code
 * (or -EINVAL when code is 0), so a caller can write
 *     return kerr_set(err, errno, "cannot open %s", path);            */
int kerr_set(struct kerr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like kerr_set() but with no strerror() suffix: for errors in input data.
 * Returns -code (-EINVAL when code is 0). */
int kerr_msg(struct kerr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already recorded; returns -err->code
 * (or -EINVAL).  For adding context on the way up. */
int kerr_prefix(struct kerr *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void kerr_clear(struct kerr *err);

#ifdef __clang_analyzer__
/* For the static analyzer of `make lint` only: it sees one file at a time and
 * cannot know that the three functions above always return a negative value,
 * so it would follow impossible "failed but returned >= 0" paths and report
 * reads of outputs that are written only on success.  This states the
 * contract to it; compiled code never sees these macros. */
static inline int kerr_negative_(int r)
{
    if (r >= 0)
        __builtin_unreachable();
    return r;
}
#define kerr_set(...) kerr_negative_(kerr_set(__VA_ARGS__))
#define kerr_msg(...) kerr_negative_(kerr_msg(__VA_ARGS__))
#define kerr_prefix(...) kerr_negative_(kerr_prefix(__VA_ARGS__))
#endif

#endif
