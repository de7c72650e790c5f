/* main.c — keel's entry point.
 *
 * As PID 1 without a verb keel boots: it sets the machine up (boot_early),
 * then serves the manifest until the machine goes down.  PID 1 never returns
 * from here: the kernel would panic (the one return, 126, is for a keel that
 * is PID 1 of a container, not the machine's).  Otherwise argv names a CLI
 * verb.
 */
#include "keel/boot.h"
#include "keel/cli.h"
#include "keel/daemon.h"
#include "keel/log.h"
#include "keel/manifest.h"

#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    /* The kernel starts init with no verb (at most unknown kernel parameters):
     * a verb means a command, even as PID 1 of a PID namespace (keel run
     * under unshare --pid, a benchmark, a container of another runtime). */
    if (getpid() != 1 || (argc > 1 && cli_is_verb(argv[1]))) {
        /* keel run runs from its binary on disk: its processes reach a
         * container's command through the sealed exec stub (stub.h); the
         * daemon re-executes from a sealed copy of keel when a container
         * could reach keel's helpers before that (daemon.c seal_if_needed). */
        return cli_main(argc, argv);
    }

    struct kerr err = { 0 };
    log_setup(2, LOG_LEVEL_INFO);
    if (boot_in_container()) {
        /* Not the machine's PID 1: returning ends only this container, and
         * nothing of the boot sequence (mounts, modules, reboot) may run. */
        log_error("refusing to boot: keel is PID 1 of a container, not the kernel's init");
        return 126;
    }
    boot_crash_handler_install();
    if (boot_early(&err) < 0) {
        log_error("%s", err.msg);
        boot_fail(POWER_POWEROFF, NULL);
    }
    char *manifest = NULL;
    if (boot_manifest_find(&manifest, &err) < 0) {
        log_error("%s", err.msg);
        boot_fail(POWER_POWEROFF, NULL);
    }
    struct daemon_opts opts = {
        .manifest = manifest,
        .boot = true,
        .run_dir = "/run/keel",
    };
    daemon_main(&opts);        /* ends in boot_final() */
    boot_final(POWER_POWEROFF);
}
