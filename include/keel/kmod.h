/* kmod.h — loading kernel modules the way modprobe would, without modprobe.
 *
 * Dependencies come from /lib/modules/$(uname -r)/modules.dep and are loaded
 * depth-first (a module after everything it needs) with finit_module(2).
 * Modules listed in modules.builtin or present in /proc/modules are skipped.
 * Compressed modules (.ko.xz/.ko.zst/.ko.gz) are passed with
 * MODULE_INIT_COMPRESSED_FILE, which the kernel decompresses where it was
 * built to; otherwise a clear error says so.
 *
 * Parse -> plan -> load: kmod_dep_parse() and kmod_plan() are pure functions
 * over text (unit-tested, fuzzable); kmod_load() reads the files and runs the
 * plan.  A dependency cycle or a dependency without an entry is an error, never
 * a loop.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_KMOD_H
#define KEEL_KMOD_H

#include <stddef.h>
#include <sys/types.h>

#include "keel/err.h"

/* Module names are normalized: '-' and '_' are the same ("nf-tables" == "nf_tables").
 * kmod_name_normalize() turns a name or a path ("kernel/net/nf-tables.ko.xz")
 * into the normalized name; -ENAMETOOLONG when it does not fit in n, -EINVAL
 * when empty. */
#define KMOD_NAME_MAX 64
int kmod_name_normalize(const char *s, char *out, size_t n);

struct kmod_dep;   /* parsed modules.dep */

/* Parses the text of modules.dep (pure; `buf` NUL-terminated).  Caller frees
 * with kmod_dep_free.  Errors name the line: "modules.dep:LINE: ...". */
int kmod_dep_parse(const char *buf, struct kmod_dep **out, struct kerr *err);
void kmod_dep_free(struct kmod_dep *d);
size_t kmod_dep_count(const struct kmod_dep *d);
/* Fills `order` (caller-provided vector of `max` relative paths, pointers into d)
 * with the load order for `name`: its dependencies first, each once, then the
 * module itself; *count is set.  -ENOENT when `name` is unknown, -ELOOP on a
 * dependency cycle, -ENOBUFS when max is too small. */
int kmod_dep_resolve(const struct kmod_dep *d, const char *name, const char **order, size_t max,
                     size_t *count, struct kerr *err);

/* The whole load plan for `names` (NULL-terminated): every module to load, in
 * order, each once, skipping those named in `loaded` (text of /proc/modules:
 * name first on each line) or `builtin` (text of modules.builtin: one path per
 * line); either text may be NULL.  *order is a heap vector of pointers into d
 * (caller frees the vector only), *count its length (may be 0: all present). */
int kmod_plan(const struct kmod_dep *d, char *const *names, const char *loaded, const char *builtin,
              const char ***order, size_t *count, struct kerr *err);

/* Groups `names` (NULL-terminated, n of them) for loading in parallel: names
 * whose load plans (kmod_plan, with `loaded` and `builtin` skipped) share a
 * module get the same group, so no group ever needs a module another group
 * is still loading (finit_module of a module whose dependency is not loaded
 * yet fails with unknown symbols).  Groups are numbered 0..nbins-1, balanced
 * by the number of modules each loads (largest first, to the least loaded);
 * bin[k] is names[k]'s group, -1 when it has nothing to load.  Returns the
 * number of modules the groups load in all.  Pure. */
int kmod_plan_bins(const struct kmod_dep *d, char *const *names, const char *loaded, const char *builtin,
                   size_t nbins, int *bin, struct kerr *err);
/* The same, reading modules.dep, modules.builtin and /proc/modules from
 * /lib/modules/$(uname -r). */
int kmod_bins(char *const *names, size_t nbins, int *bin, struct kerr *err);

/* Loads `names` as kmod_load(NULL, names) does, in a forked child, so that
 * PID 1's loop never waits on finit_module(2).  Returns the child's pid
 * (reaped by its caller's loop); *report is the read end of a close-on-exec
 * pipe the child writes its outcome to before it exits.  After the child is
 * reaped, kmod_load_async_result() reads it: the number of modules loaded, or
 * a negative errno with err filled as kmod_load() fills it. */
pid_t kmod_load_async(char *const *names, int *report, struct kerr *err);
int kmod_load_async_result(int report, int status, struct kerr *err);

/* Loads each named module with its dependencies from `moddir` (NULL means
 * /lib/modules/$(uname -r)).  Stops at the first failure.  Returns the number
 * of modules actually loaded (>= 0). */
int kmod_load(const char *moddir, char *const *names, struct kerr *err);

/* The "softdep NAME pre: ..." modules of `name` (modules.softdep), each
 * alias resolved through the exact-name lines of modules.alias ("alias
 * crc32c crc32c_generic"): normalized module names, appended to *out (a
 * NULL-terminated vector the caller frees with strv_free).  Pure.  A module
 * whose init asks the kernel for another (libcrc32c wants "crc32c") fails with
 * ENOENT where there is no modprobe, unless its softdeps were loaded first. */
int kmod_softdeps(const char *softdep, const char *alias, const char *name, char ***out);

#endif
