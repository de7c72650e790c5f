/* boot.h — what keel does as PID 1 before and after it supervises.
 *
 * Boot:  boot_early() mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run, /tmp
 *        and cgroup2, makes / private, points 0/1/2 at /dev/console, disables
 *        Ctrl-Alt-Del (so it arrives as SIGINT) and, when the root is the
 *        kernel's rootfs (initramfs), moves the system onto a tmpfs root so
 *        containers can use pivot_root.  boot_apply_system() then sets the
 *        hostname, sysctls, DNS and loads modules.
 * Shutdown: boot_final() kills what is left, unmounts in reverse order, syncs
 *        and calls reboot(2).  It never returns; if reboot(2) fails it loops
 *        in pause() — PID 1 must never exit.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_BOOT_H
#define KEEL_BOOT_H

#include <stdbool.h>

#include "keel/err.h"
#include "keel/manifest.h"

/* The manifest path: keel.manifest= from /proc/cmdline, else MANIFEST_DEFAULT_PATH.
 * Pure helper: parse a kernel command line into the value of `key` (heap, or NULL). */
char *boot_cmdline_value(const char *cmdline, const char *key);

int boot_early(struct kerr *err);
/* hostname, sysctl, modules, dns, interfaces.  Logs a stage line per step. */
int boot_apply_system(const struct manifest *m, struct kerr *err);

/* Opens the power button's evdev device (KEY_POWER), O_NONBLOCK|O_CLOEXEC;
 * -ENOENT when none is present. */
int boot_power_button_open(struct kerr *err);
/* Drains events from fd; returns 1 when KEY_POWER was pressed, 0 otherwise. */
int boot_power_button_pressed(int fd);

/* Maps a signal received by PID 1 to what it asks for (POWER_NONE if nothing). */
enum power_action boot_signal_action(int sig);

/* The end of the shutdown sequence, after containers are stopped. */
__attribute__((noreturn)) void boot_final(enum power_action action);

/* on_error = shell: runs the rescue shell (if any) and waits for it. */
void boot_rescue_shell(const char *path);

#endif
