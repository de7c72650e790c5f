/* seccomp_profile.h — the custom seccomp filter format (`seccomp = PATH`)
 * and its parser.  Pure: the manifest's load reads the file once and keeps
 * its text (container_spec.seccomp_text), checked here then; compiling that
 * text into a filter is seccomp.h's.
 *
 * The format of `seccomp = PATH`, one rule a line:
 *     # comment
 *     default errno [ERRNO] | allow | kill     exactly once
 *     allow NAME | errno NAME [ERRNO] | kill NAME
 * ERRNO is a name (EPERM, ENOSYS, ...) or a number 1..4095, default EPERM.
 *
 * Unknown system call names (as the linked libseccomp knows them) are errors.
 */
#ifndef KEEL_SECCOMP_PROFILE_H
#define KEEL_SECCOMP_PROFILE_H

#include <stddef.h>

enum seccomp_action { SECCOMP_ALLOW, SECCOMP_ERRNO, SECCOMP_KILL };

struct seccomp_rule {
    char name[64];               /* system call name as libseccomp knows it */
    enum seccomp_action action;
    int errno_value;             /* for SECCOMP_ERRNO */
    int line;
};

struct seccomp_profile {
    enum seccomp_action default_action;
    int default_errno;
    struct seccomp_rule *rules;  /* owned */
    size_t n_rules;
};

/* Pure parser of the custom format over buf[0..len).  On failure returns
 * -EINVAL and, when `errors` is not NULL, appends one "FILE:LINE: message"
 * per problem found to the string vector *errors (caller frees with
 * strv_free).  Unknown system call names are errors. */
int seccomp_profile_parse(const char *file, const char *buf, size_t len, struct seccomp_profile *out,
                          char ***errors);
/* The largest profile the manifest's load reads (manifest.c; manifest_read_why says "1 MiB"). */
#define SECCOMP_PROFILE_SIZE_MAX (1u << 20)
void seccomp_profile_free(struct seccomp_profile *p);

#endif
