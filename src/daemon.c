/* daemon.c — the serving side of keel, see daemon.h.
 *
 * main() in boot mode reads like the boot script it replaces:
 *   mount the system, read the manifest, apply [system], start containers,
 *   serve until asked to stop, stop containers in order, power off.
 */
#include "keel/daemon.h"
#include "keel/cgroup.h"
#include "keel/log.h"
#include "keel/net.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/parse.h"
#include "keel/supervise.h"
#include "keel/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct daemon {
    const struct daemon_opts *opts;
    struct loop *loop;
    struct manifest *m;
    struct supervisor *sup;
    struct cgroup_root cgroup;
    struct net_ctx *net;
    int sigfd;
    bool stopping;
    enum power_action action;   /* what the stop leads to (boot mode) */
};

static const int handled_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPWR };

static int signals_fd(struct kerr *err)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(handled_signals); i++)
        sigaddset(&set, handled_signals[i]);
    for (int rt = 3; rt <= 5; rt++)   /* systemd's halt / poweroff / reboot */
        sigaddset(&set, SIGRTMIN + rt);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return kerr_set(err, errno, "cannot block signals");
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create the signal fd");
    /* A write to a closed pipe or socket must be an error, not death. */
    signal(SIGPIPE, SIG_IGN);
    return fd;
}

static void begin_stop(struct daemon *d, enum power_action action, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    d->action = action;
    log_info("stopping all containers (%s)", why);
    supervisor_stop_all(d->sup);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
    struct daemon *d = data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            supervisor_reap(d->sup);
            continue;
        }
        if (sig == SIGHUP)
            continue;   /* reserved for a manifest reload */
        if (!d->opts->boot) {
            /* keel run: any stop signal stops everything and exits 0. */
            begin_stop(d, POWER_NONE, signal_name(sig));
            continue;
        }
    }
}

static void on_power(enum power_action action, const char *why, void *data)
{
    struct daemon *d = data;
    begin_stop(d, action, why);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int daemon_main(const struct daemon_opts *opts)
{
    struct daemon d = { .opts = opts, .sigfd = -1, .cgroup = { .keel_fd = -1, .start_fd = -1 } };
    struct kerr err = { 0 };
    struct diag diag = { 0 };
    int status = 0, code = 1;

    log_setup(2, LOG_LEVEL_INFO);
    log_stage("keel start");
    if (manifest_load(opts->manifest, 0, &d.m, &diag) < 0) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        log_error("the manifest %s is not valid: nothing was started", opts->manifest);
        diag_free(&diag);
        return 2;
    }
    if (!opts->boot && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        log_error("cannot become a child subreaper: %s", strerror(errno));
        goto out;
    }
    int r = mkdir_p(opts->run_dir, 0700);
    if (r < 0) {
        log_error("cannot create %s: %s", opts->run_dir, strerror(-r));
        goto out;
    }
    if (loop_new(&d.loop, &err) < 0 || (d.sigfd = signals_fd(&err)) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (loop_add_fd(d.loop, d.sigfd, EPOLLIN, on_signal, &d) < 0) {
        log_error("cannot watch signals");
        goto out;
    }
    /* Without a usable cgroup2 hierarchy containers still run; one that asks
     * for a limit is then refused at its start, naming the controller. */
    if (cgroup_setup(&d.cgroup, opts->boot ? "/sys/fs/cgroup" : NULL, opts->boot, &err) < 0)
        log_warn("%s: containers get no cgroup of their own", err.msg);
    /* Clears what a crashed keel left, then makes the bridges and keel's nf_tables table. */
    if (net_init(&d.net, d.m, opts->run_dir, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    log_stage("network ready");
    struct supervisor_opts sopts = {
        .boot_mode = opts->boot, .run_dir = opts->run_dir, .power = on_power, .power_data = &d,
        .cgroup = &d.cgroup, .net = d.net,
    };
    if (supervisor_new(&d.sup, d.loop, d.m, &sopts, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    supervisor_start_all(d.sup, &err);
    code = 0;   /* a stop signal ends keel run with 0; a finished main sets its status */

    for (;;) {
        if (!d.stopping && supervisor_finished(d.sup, &status)) {
            code = exit_code(status);
            begin_stop(&d, POWER_NONE, "all containers exited");
        }
        if (d.stopping && supervisor_all_down(d.sup))
            break;
        if (loop_run_once(d.loop, &err) < 0) {
            log_error("%s", err.msg);
            begin_stop(&d, POWER_NONE, "event loop failure");
        }
    }
    log_info("all containers are down");
out:
    supervisor_free(d.sup);
    net_shutdown(d.net);
    cgroup_release(&d.cgroup);
    close_safe(d.sigfd);
    loop_free(d.loop);
    manifest_free(d.m);
    return code;
}
