/* fstab.c — the syntax of [system] fstab lines, see fstab.h. */
#include "keel/fstab.h"
#include "keel/parse.h"
#include "keel/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* The mount flags fstab(5) spells as options: each sets or clears bits. */
static const struct { const char *name; unsigned long set, clear; } fstab_flags[] = {
    { "defaults", 0, 0 },
    { "ro", MS_RDONLY, 0 },           { "rw", 0, MS_RDONLY },
    { "nosuid", MS_NOSUID, 0 },       { "suid", 0, MS_NOSUID },
    { "nodev", MS_NODEV, 0 },         { "dev", 0, MS_NODEV },
    { "noexec", MS_NOEXEC, 0 },       { "exec", 0, MS_NOEXEC },
    { "sync", MS_SYNCHRONOUS, 0 },    { "async", 0, MS_SYNCHRONOUS },
    { "dirsync", MS_DIRSYNC, 0 },     { "lazytime", MS_LAZYTIME, 0 },
    { "noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME },
    { "relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME },
    { "strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME },
    { "nodiratime", MS_NODIRATIME, 0 },
};

/* Mount points keel itself owns (boot_early) or that would hide the system. */
static bool fstab_target_reserved(const char *t)
{
    static const char *const own[] = { "/proc", "/sys", "/dev", "/run" };
    if (strcmp(t, "/") == 0)
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
        size_t n = strlen(own[i]);
        if (strncmp(t, own[i], n) == 0 && (t[n] == '\0' || t[n] == '/'))
            return true;
    }
    return false;
}

int fstab_options(const char *opts, unsigned long *flags, char **data, bool *nofail, char *why)
{
    *data = NULL;
    if (!opts)
        return 0;
    _cleanup_free_ char *copy = strdup(opts);
    if (!copy)
        return -ENOMEM;
    char buf[512] = "";
    size_t used = 0;
    char *osave = NULL;
    for (char *o = strtok_r(copy, ",", &osave); o; o = strtok_r(NULL, ",", &osave)) {
        size_t k = 0;
        while (k < ARRAY_SIZE(fstab_flags) && strcmp(o, fstab_flags[k].name) != 0)
            k++;
        if (k < ARRAY_SIZE(fstab_flags)) {
            *flags = (*flags & ~fstab_flags[k].clear) | fstab_flags[k].set;
        } else if (strcmp(o, "nofail") == 0) {
            *nofail = true;
        } else {
            used += (size_t)snprintf(buf + used, used < sizeof buf ? sizeof buf - used : 0, "%s%s",
                                     used ? "," : "", o);
            if (used >= sizeof buf)
                return PARSE_FAIL(why, EINVAL, "the options are longer than %zu bytes", sizeof buf - 1);
        }
    }
    if (used && !(*data = strdup(buf)))
        return -ENOMEM;
    return 0;
}

int fstab_parse(const char *s, struct fstab_entry *out, char *why)
{
    *out = (struct fstab_entry){ .flags = MS_NOSUID | MS_NODEV };
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    char *f[5], *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(copy, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
        f[n++] = t;
    if (n < 3 || n > 4)
        return PARSE_FAIL(why, EINVAL, "'%s' is not SOURCE TARGET FSTYPE [OPTIONS]", s);
    const char *target = f[1], *fstype = f[2];
    if (target[0] != '/' || strstr(target, "/..") || strstr(target, "//") ||
        (strlen(target) > 1 && target[strlen(target) - 1] == '/'))
        return PARSE_FAIL(why, EINVAL, "target '%s' is not a plain absolute path", target);
    if (fstab_target_reserved(target))
        return PARSE_FAIL(why, EINVAL, "target '%s' is keel's own (/, /proc, /sys, /dev, /run)", target);
    if (strlen(fstype) > 31 || fstype[strspn(fstype, "abcdefghijklmnopqrstuvwxyz0123456789_.")])
        return PARSE_FAIL(why, EINVAL, "'%s' is not a file system type", fstype);
    char *data = NULL;
    int r = fstab_options(n == 4 ? f[3] : NULL, &out->flags, &data, &out->nofail, why);
    if (r < 0)
        return r;
    out->source = strdup(f[0]);
    out->target = strdup(target);
    out->fstype = strdup(fstype);
    out->data = data;
    if (!out->source || !out->target || !out->fstype) {
        fstab_free(out);
        return -ENOMEM;
    }
    return 0;
}

char *fstab_format(const struct fstab_entry *e, char *buf, size_t n)
{
    static const struct { unsigned long flag; const char *name; } shown[] = {
        { MS_NOSUID, "nosuid" }, { MS_NODEV, "nodev" }, { MS_NOEXEC, "noexec" },
        { MS_SYNCHRONOUS, "sync" }, { MS_DIRSYNC, "dirsync" }, { MS_LAZYTIME, "lazytime" },
        { MS_NOATIME, "noatime" }, { MS_RELATIME, "relatime" }, { MS_STRICTATIME, "strictatime" },
        { MS_NODIRATIME, "nodiratime" },
    };
    size_t used = (size_t)snprintf(buf, n, "%s %s %s %s", e->source, e->target, e->fstype,
                                   e->flags & MS_RDONLY ? "ro" : "rw");
    for (size_t i = 0; i < ARRAY_SIZE(shown); i++)
        if (e->flags & shown[i].flag)
            used += (size_t)snprintf(buf + used, used < n ? n - used : 0, ",%s", shown[i].name);
    if (e->data)
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, ",%s", e->data);
    if (e->nofail)
        snprintf(buf + used, used < n ? n - used : 0, ",nofail");
    return buf;
}

void fstab_free(struct fstab_entry *e)
{
    free(e->source);
    free(e->target);
    free(e->fstype);
    free(e->data);
    e->source = e->target = e->fstype = e->data = NULL;
}
