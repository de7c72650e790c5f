/* kmod.h — loading kernel modules the way modprobe would, without modprobe.
 *
 * Dependencies come from /lib/modules/$(uname -r)/modules.dep and are loaded
 * depth-first (a module after everything it needs) with finit_module(2).
 * Modules listed in modules.builtin or present in /proc/modules are skipped.
 * Compressed modules (.ko.xz/.ko.zst/.ko.gz) are passed with
 * MODULE_INIT_COMPRESSED_FILE, which the kernel decompresses where it was
 * built to; otherwise a clear error says so.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_KMOD_H
#define KEEL_KMOD_H

#include <stddef.h>

#include "keel/err.h"

/* Module names are normalized: '-' and '_' are the same ("nf-tables" == "nf_tables"). */

struct kmod_dep;   /* parsed modules.dep */

/* Parses the text of modules.dep (pure; `buf` NUL-terminated).  Caller frees with kmod_dep_free. */
int kmod_dep_parse(const char *buf, struct kmod_dep **out, struct kerr *err);
void kmod_dep_free(struct kmod_dep *d);
/* Fills `order` (caller-provided vector of `max` relative paths, pointers into d)
 * with the load order for `name`: its dependencies first, each once, then the
 * module itself; *count is set.  -ENOENT when `name` is unknown. */
int kmod_dep_resolve(const struct kmod_dep *d, const char *name, const char **order, size_t max,
                     size_t *count, struct kerr *err);

/* Loads each named module with its dependencies from `moddir` (NULL means
 * /lib/modules/$(uname -r)).  Stops at the first failure. */
int kmod_load(const char *moddir, char *const *names, struct kerr *err);

#endif
