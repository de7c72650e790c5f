/* daemon.h — keel serving: `keel run MANIFEST` on a host, or PID 1 at boot.
 *
 * Owns the event loop, the signal fd, the supervisor, the control listeners
 * and the shutdown decision.  Run mode returns keel's exit status; boot mode
 * never returns (it ends in reboot(2)). */
#ifndef KEEL_DAEMON_H
#define KEEL_DAEMON_H

#include <stdbool.h>

struct daemon_opts {
    const char *manifest;   /* path */
    bool boot;              /* PID 1 */
    const char *run_dir;    /* default /run/keel */
    bool interfaces;        /* keel run --interfaces: configure [interface] sections (boot mode always does) */
    char *const *argv;      /* keel run: its arguments from "run" on (NULL-ended), for a sealed re-execution */
};

int daemon_main(const struct daemon_opts *opts);

#endif
