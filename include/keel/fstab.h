/* fstab.h — the syntax of `[system] fstab = SOURCE TARGET FSTYPE [OPTIONS]`:
 * one line of fstab(5) without its last two fields.
 *
 * Pure: no I/O.  The manifest parses the lines into `struct fstab_entry`;
 * boot.c mounts them (boot_setup_machine) and plan.c prints them.
 *
 * OPTIONS as in fstab(5): the mount flags (ro, rw, noexec, exec, nosuid,
 * suid, nodev, dev, noatime, relatime, strictatime, nodiratime, sync, async,
 * dirsync, lazytime, defaults) become flags, `nofail` makes a failure a
 * warning, everything else goes to the file system as data.  nosuid and
 * nodev are on unless `suid` / `dev` say otherwise.  Targets keel owns (/,
 * /proc, /sys, /dev, /run and below) are refused.
 */
#ifndef KEEL_FSTAB_H
#define KEEL_FSTAB_H

#include <stdbool.h>
#include <stddef.h>

/* One file system mounted at boot. */
struct fstab_entry {
    char *source;            /* a device (/dev/vda) or a name (tmpfs) */
    char *target;            /* absolute, created when missing */
    char *fstype;
    char *data;              /* the options that are not mount flags, or NULL */
    unsigned long flags;     /* MS_*; nosuid and nodev unless suid / dev */
    bool nofail;             /* a failure is a warning, not a fatal boot error */
    int line;                /* manifest line (set by the manifest, not by fstab_parse) */
};

/* `s` into *out (heap strings; free with fstab_free).  0 / -EINVAL (why
 * filled, PARSE_WHY_MAX bytes) / -ENOMEM; *out holds nothing on failure. */
int fstab_parse(const char *s, struct fstab_entry *out, char *why);
void fstab_free(struct fstab_entry *e);
/* OPTIONS alone (NULL: none): the flags set or cleared in *FLAGS, *NOFAIL
 * set by `nofail`, the rest into *DATA (heap, NULL when none).  0 / -EINVAL
 * (why filled) / -ENOMEM.  `[volume] options` uses it too. */
int fstab_options(const char *opts, unsigned long *flags, char **data, bool *nofail, char *why);
/* The entry as one fstab line, options spelled out ("/dev/vda /data ext4
 * rw,nosuid,nodev,noatime,nofail"); returns buf. */
char *fstab_format(const struct fstab_entry *e, char *buf, size_t n);

#endif
