/* boot.h — what keel does as PID 1 before and after it supervises.
 *
 * Boot:  boot_early() mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run, /tmp
 *        and cgroup2, makes / private, points 0/1/2 at /dev/console, disables
 *        Ctrl-Alt-Del (so it arrives as SIGINT) and, when the root is the
 *        kernel's rootfs (initramfs), moves the root onto a mount that
 *        pivot_root can leave (a bind mount of rootfs moved onto / and
 *        chrooted into, as switch_root does; see docs/boot.md), makes the
 *        rootfs mount keel runs from (left as the bind's parent) read-only,
 *        so /proc/PID/exe of keel's processes cannot be opened for writing,
 *        and bind-mounts keel's binary read-only on itself in the new root.
 *        boot_setup_machine() then sets the hostname, loads modules, mounts
 *        the fstab entries, sets sysctls and DNS and brings up lo and the
 *        [interface] uplinks.
 * Shutdown: boot_final() kills what is left, unmounts in reverse order, syncs
 *        and calls reboot(2).  It never returns; if reboot(2) fails it loops
 *        in pause() — PID 1 must never exit.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).  The pure
 * helpers (boot_cmdline_value, boot_sysctl_path, boot_resolv_conf,
 * boot_mountinfo_*, boot_caps_has_key) touch nothing and are unit-tested.
 */
#ifndef KEEL_BOOT_H
#define KEEL_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "keel/err.h"
#include "keel/manifest.h"
#include "keel/modplan.h"

/* Pure helper: the value of `key` on a kernel command line (the last one wins,
 * as the kernel does; "key=\"a b\"" quoting understood).  Heap string, or NULL
 * when absent (errno 0) or out of memory (errno ENOMEM). */
char *boot_cmdline_value(const char *cmdline, const char *key);
/* keel.manifest= from /proc/cmdline, else MANIFEST_DEFAULT_PATH (heap; NULL on ENOMEM). */
char *boot_manifest_path(void);

/* Where the manifest comes from at boot, the first of (docs/operations.md):
 * keel.manifest=PATH on the kernel command line (a path in the image),
 * QEMU's fw_cfg entry opt/keel/manifest, a config disk (a file system
 * labelled KEELCFG holding /keel.ini), the image's /etc/keel/keel.ini. */
enum boot_source {
    BOOT_SRC_CMDLINE, BOOT_SRC_FWCFG, BOOT_SRC_DISK, BOOT_SRC_IMAGE,
    BOOT_SRC_PROBE_FWCFG,   /* not decided: look at fw_cfg, then ask again */
    BOOT_SRC_PROBE_DISK,    /* not decided: look for the config disk, then ask again */
};
enum boot_probe { BOOT_PROBE_UNKNOWN, BOOT_PROBE_ABSENT, BOOT_PROBE_FOUND };
/* Pure: the source given what is known so far.  CMDLINE_PATH is the value of
 * keel.manifest= (NULL or "" when absent); FWCFG and DISK what the probes
 * found (BOOT_PROBE_UNKNOWN: not looked at yet).  A source is probed only
 * when every source before it is absent, so the common cases cost nothing. */
enum boot_source boot_manifest_source(const char *cmdline_path, enum boot_probe fwcfg, enum boot_probe disk);
const char *boot_source_name(enum boot_source s);

#define BOOT_FWCFG_MANIFEST "/sys/firmware/qemu_fw_cfg/by_name/opt/keel/manifest/raw"
#define BOOT_CONFIG_LABEL "KEELCFG"
#define BOOT_CONFIG_FILE "keel.ini"                      /* at the root of the config disk */
#define BOOT_MANIFEST_COPY "/run/keel/manifest.ini"       /* fw_cfg's or the config disk's copy */
#define BOOT_MANIFEST_SOURCE "/run/keel/manifest.source"  /* "SOURCE\nPATH\n", for keel check */
#define BOOT_MANIFEST_MAX (1 << 20)

/* Boot mode: finds the manifest (see enum boot_source), copies fw_cfg's or
 * the config disk's into BOOT_MANIFEST_COPY, records the choice in
 * BOOT_MANIFEST_SOURCE and logs it.  *PATH (heap) is the file to read.  A
 * source that is present but unusable (too large, a config disk without
 * /keel.ini) is an error, never a silent fall back to the image's. */
int boot_manifest_find(char **path, struct kerr *err);
/* What BOOT_MANIFEST_SOURCE says for PATH: "fw_cfg opt/keel/manifest", ...
 * into BUF; false when keel did not boot from PATH (or not at all). */
bool boot_manifest_source_of(const char *path, char *buf, size_t n);

/* True when keel is PID 1 of a container rather than the kernel's init (a
 * `#!/proc/self/exe` command ran keel's binary there; see boot.c): main then
 * refuses to boot and returns 126, which ends only that container. */
bool boot_in_container(void);
/* Only for the kernel's init (boot_in_container() false). */
int boot_early(struct kerr *err);
/* hostname, modules, fstab, sysctl, dns, lo and interfaces.  Logs a stage line per step.
 * The modules: with [system] modules_split = yes and a PLAN to fill, only
 * modplan's `before` (the unknown ones first, before the fstab; the rest
 * after the volumes, when the image layers can be looked at); PLAN's `after`
 * is the caller's to load once the first container started.  PLAN NULL, or
 * modules_split = no: every module, as listed, and `after` is empty. */
int boot_setup_machine(const struct manifest *m, struct modplan *plan, struct kerr *err);
/* Replaces the machine's /etc/resolv.conf with `text` (written aside and
 * renamed): [system] dns at boot, a DHCP lease's servers later. */
int boot_write_resolv_conf(const char *text, struct kerr *err);
/* Loads the loop driver and the file systems M's image-file layers need
 * (part of boot_setup_machine; again for a payload slot's manifest).  A
 * failure is a warning; returns how many modules it loaded. */
int boot_image_modules(const struct manifest *m);

/* Opens the power button's evdev device (KEY_POWER), O_NONBLOCK|O_CLOEXEC;
 * -ENOENT when none is present (load the `button` and `evdev` modules). */
int boot_power_button_open(struct kerr *err);
/* Drains events from fd; returns 1 when KEY_POWER was pressed, 0 otherwise. */
int boot_power_button_pressed(int fd);

/* Maps a signal received by PID 1 to what it asks for (POWER_NONE if nothing):
 * SIGTERM, SIGINT (Ctrl-Alt-Del) reboot; SIGUSR1 halt; SIGUSR2, SIGPWR power
 * off; SIGRTMIN+3/+4/+5 halt/power off/reboot (systemd's). */
enum power_action boot_signal_action(int sig);

/* The end of the shutdown sequence, after containers are stopped: SIGTERM to
 * every process left, up to 2 s of reaping, SIGKILL, unmount everything in
 * reverse mount order (MNT_DETACH what stays busy), sync, reboot(2).
 * POWER_POWEROFF / POWER_REBOOT / POWER_HALT; anything else powers off.
 * Outside PID 1 it refuses (logs, and pauses forever rather than kill(-1)). */
__attribute__((noreturn)) void boot_final(enum power_action action);

/* A fatal problem at boot (already logged by the caller): on_error = shell runs
 * the rescue shell (then powers off); poweroff / reboot wait 5 s so the message
 * can be read, then boot_final().  Never returns. */
__attribute__((noreturn)) void boot_fail(enum power_action on_error, const char *rescue_shell);

/* PID 1's crash handler: a fault of keel itself (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGABRT raised by keel) is written to the console, then the machine
 * syncs and reboots — never the kernel panic an exiting init would cause, never
 * a hang.  The same signals sent by another process (kill -SEGV 1) are
 * ignored: they say nothing about keel's state. */
void boot_crash_handler_install(void);

/* on_error = shell: runs the rescue shell (if any) on the console and waits for
 * it (reaping other children meanwhile). */
void boot_rescue_shell(const char *path);

/* Pure helpers. */
/* sysctl key (dotted "net.ipv4.ip_forward" or slashed "net/ipv4/ip_forward")
 * -> "/proc/sys/net/ipv4/ip_forward" in buf; -EINVAL for "..", empty parts or
 * odd characters. */
int boot_sysctl_path(const char *key, char *buf, size_t n);
/* "nameserver IP\n" per entry (heap; NULL on ENOMEM). */
char *boot_resolv_conf(char *const *dns);
/* The same with the servers of IPv6 router advertisements (RDNSS) after
 * [system] dns's; `ra` may be NULL. */
char *boot_resolv_conf_ra(char *const *dns, char *const *ra);
/* Writes /etc/resolv.conf (aside, then renamed: never half a file) from
 * boot_resolv_conf_ra. */
int boot_write_resolv_conf_ra(char *const *dns, char *const *ra, struct kerr *err);
/* The mount at "/" in /proc/self/mountinfo text (the last one listed): its
 * file system type into fstype, and whether it has no parent (*parentless: the
 * kernel's rootfs, which pivot_root cannot leave).  -ENOENT if none. */
int boot_mountinfo_root(const char *mountinfo, char *fstype, size_t n, bool *parentless);
/* The mount points of mountinfo text in order, octal escapes (\040) decoded;
 * *out is a new NULL-terminated vector. */
int boot_mountinfo_points(const char *mountinfo, char ***out);
/* True when an evdev capability bitmap as /sys/class/input/.../capabilities/key
 * prints it (hex words, most significant first) has bit `code` set. */
bool boot_caps_has_key(const char *caps, unsigned code);

#endif
