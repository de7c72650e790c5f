/* seccomp.h — the containers' system call filter.
 *
 * The filter is compiled with libseccomp in keel (the parent), before the
 * container's process is cloned, into a plain classic-BPF program.  The
 * child only hands that program to the kernel (seccomp(2), or prctl where
 * seccomp(2) is missing) as the last step before execve: no libseccomp call,
 * no allocation and no file access happen in the child.  Building once per
 * container definition and reusing the program on every restart is fine:
 * it depends only on the spec and its capability set.
 *
 * The default filter (docs/security-seccomp.md) allows everything except
 * the system calls Docker's default profile blocks, each answered with
 * EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose flags
 * can be inspected).  Calls that Docker allows only with a capability are
 * allowed when `caps` holds that capability; user namespaces need
 * SECCOMP_NESTED_USERNS too.  A guard in front of libseccomp's program
 * answers numbers above libseccomp's tables and i386 socketcall with ENOSYS,
 * socket(AF_VSOCK) and personas outside Docker's list with EPERM.  x86-64,
 * x32 and i386 are filtered; any other architecture kills the process.
 *
 * Custom filters (`seccomp = PATH`): the format and its parser are
 * seccomp_profile.h's; this module compiles a parsed profile.
 *
 * Loading needs no_new_privs or CAP_SYS_ADMIN: with no_new_privs = no, the
 * caller loads the filter before dropping capabilities (and the filter must
 * then allow what keel does after it: capset, setresuid/setresgid,
 * setgroups, prctl, close_range, execve — the default filter does).
 *
 * Names: libseccomp owns seccomp_init/load/release/rule_add/export_*; this
 * module keeps clear of them (hence seccomp_install, not seccomp_load).
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_SECCOMP_H
#define KEEL_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/seccomp_profile.h"

/* A compiled filter; len == 0 means "no filter" (seccomp = unconfined). */
struct seccomp_prog {
    struct sock_filter *insns;   /* owned; free with seccomp_prog_free */
    unsigned short len;
};

/* The filter for container c: default (chosen by `caps`, the container's
 * final capability set as CAP_* bits), unconfined (len 0), or its file. */
int seccomp_build(const struct container_spec *c, uint64_t caps, struct seccomp_prog *out, struct kerr *err);
/* opts for the default filter: SECCOMP_NESTED_USERNS (nested_userns = yes)
 * lets a container with CAP_SYS_ADMIN make user namespaces. */
#define SECCOMP_NESTED_USERNS 1u
int seccomp_build_default(uint64_t caps, unsigned opts, struct seccomp_prog *out, struct kerr *err);
/* The same filter, always compiled with libseccomp now.  seccomp_build_default
 * copies it from a table compiled at build time when (caps, opts) is in it
 * (the default capability set: src/gen/seccomp_gen.c), byte for byte the
 * program this returns (tests/unit/test_seccomp.c checks it);
 * seccomp_default_prebuilt says whether it is. */
int seccomp_compile_default(uint64_t caps, unsigned opts, struct seccomp_prog *out, struct kerr *err);
bool seccomp_default_prebuilt(uint64_t caps, unsigned opts);
int seccomp_build_profile(const struct seccomp_profile *p, struct seccomp_prog *out, struct kerr *err);
void seccomp_prog_free(struct seccomp_prog *p);

/* In the child, last before execve: installs the program (no-op for len 0).
 * Async-signal-safe apart from formatting `err` on failure. */
int seccomp_install(const struct seccomp_prog *p, struct kerr *err);

/* Whether the default filter refuses `name` (in at least one of its forms:
 * socket for AF_VSOCK, personality for other personas, unshare for
 * CLONE_NEWUSER) for this capability set and opts. */
int seccomp_default_blocks(const char *name, uint64_t caps, unsigned opts);
/* keel check --plan: "    seccomp ..." lines. */
void seccomp_plan(const struct container_spec *c, uint64_t caps, FILE *out);

#endif
