/* rlimit.h — per-container resource limits (setrlimit), `rlimit = NAME=SOFT[:HARD]`.
 *
 * NAME is the lower-case resource without RLIMIT_ (nofile, nproc, core,
 * memlock, stack, ...); SOFT and HARD are decimal numbers or "unlimited"
 * (also "infinity"); HARD defaults to SOFT; SOFT <= HARD.
 *
 * Default: every container gets nofile = 1024:524288 unless the manifest sets
 * nofile.  The soft limit stays 1024 because select(2) cannot handle fds past
 * FD_SETSIZE (1024) and programs still use it; the hard limit 524288 lets a
 * program that needs many fds raise its own soft limit without privilege
 * (the values systemd chose in v240 for the same reasons).  Without this
 * default, containers would inherit keel's limits, which in boot mode are the
 * kernel's init defaults (1024:4096) and in `keel run` whatever the shell had.
 *
 * Contract: the syntax is parse.h's (parse_rlimit, parse_rlimit_name: pure,
 * below the manifest).  rlimit_apply runs in the
 * container's child before capabilities are dropped (raising a hard limit
 * needs CAP_SYS_RESOURCE) and returns 0 / negative errno with `err` filled.
 */
#ifndef KEEL_RLIMIT_H
#define KEEL_RLIMIT_H

#include <stddef.h>
#include <stdio.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/parse.h"

/* RLIMIT_DEFAULT_NOFILE_SOFT / _HARD: parse.h's, beside the syntax, so that
 * the manifest's key table shows the same numbers. */

/* Applies the default nofile (unless `r` sets nofile), then each of r[0..n).
 * If the default's hard limit cannot be had (no CAP_SYS_RESOURCE, or above
 * fs.nr_open), the current hard limit is kept instead: the default is a
 * convenience, never a reason to fail a start.  An explicit limit that
 * cannot be set is an error. */
int rlimit_apply(const struct rlimit_spec *r, size_t n, struct kerr *err);

/* keel's own soft limit of open files raised to its hard limit.  keel holds
 * about a dozen fds per container (its pinned namespaces, output, setup
 * channel, pidfd) and more per client: the usual soft 1024 ran out near 70
 * containers.  keel never uses select(2), and every container gets its own
 * nofile (above), never keel's.  Returns the new soft limit, or -errno. */
long rlimit_raise_own_nofile(void);

/* keel check --plan: "    rlimit NAME = SOFT:HARD" lines, default included. */
void rlimit_plan(const struct container_spec *c, FILE *out);

#endif
