/* watchdog.c — the hardware watchdog, see watchdog.h.
 *
 * Why a loop timer and not a thread or the kernel's own pinging: the point of
 * the watchdog is to notice that PID 1 no longer serves.  A pet from the same
 * loop that reaps children, supervises containers and answers the control
 * socket proves that loop still turns; anything else would keep petting a
 * hung keel.
 *
 * Opening the device arms it, so every failure after open() disarms it again
 * before closing: a watchdog keel cannot drive must not reset the machine.
 */
#include "keel/watchdog.h"
#include "keel/log.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The legacy /dev/watchdog is the misc device 10:130; it drives watchdog0. */
#define WATCHDOG_MISC_MAJOR 10
#define WATCHDOG_MISC_MINOR 130

struct watchdog {
    struct loop *loop;
    char *dev;
    int fd;
    dev_t rdev;                /* for reading the state back from sysfs */
    int timeout_s;             /* what the driver took */
    uint64_t interval_ms;      /* pet period */
    uint64_t last_pet_ms;      /* CLOCK_MONOTONIC */
    int64_t timer;
    bool keepalive_ioctl;      /* WDIOF_KEEPALIVEPING; else a write pets */
    bool pet_failing;          /* a pet failed: logged once until one works again */
};

int watchdog_timeout_seconds(uint64_t timeout_ms)
{
    uint64_t s = timeout_ms / 1000 + (timeout_ms % 1000 ? 1 : 0);
    if (s < 1)
        s = 1;
    if (s > INT32_MAX)
        s = INT32_MAX;
    return (int)s;
}

uint64_t watchdog_pet_interval_ms(int seconds)
{
    if (seconds < 1)
        seconds = 1;
    return (uint64_t)seconds * 1000 / 3;
}

/* Disarms: 'V' (the magic character, so the release stops the device) and
 * WDIOS_DISABLECARD (stops it at once).  Either is enough for the watchdog
 * core; drivers without magic close need the ioctl, drivers without the ioctl
 * need the 'V'.  Returns 0 when at least one of them was accepted. */
static int disarm(int fd)
{
    int r = -EIO;
    if (write(fd, "V", 1) == 1)
        r = 0;
    int opt = WDIOS_DISABLECARD;
    if (ioctl(fd, WDIOC_SETOPTIONS, &opt) == 0)
        r = 0;
    return r;
}

static int pet(struct watchdog *w)
{
    if (w->keepalive_ioctl) {
        int dummy = 0;
        if (ioctl(w->fd, WDIOC_KEEPALIVE, &dummy) == 0)
            return 0;
        if (errno != ENOTTY && errno != EOPNOTSUPP)
            return -errno;
        w->keepalive_ioctl = false;
    }
    /* Any write pets; a byte other than 'V' also cancels an earlier magic. */
    return write(w->fd, "\0", 1) == 1 ? 0 : -errno;
}

int watchdog_pet(struct watchdog *w)
{
    if (!w || w->fd < 0)
        return -EBADF;
    int r = pet(w);
    if (r == 0)
        w->last_pet_ms = now_ms();
    return r;
}

static void on_pet_timer(struct loop *l, void *data)
{
    struct watchdog *w = data;
    w->timer = 0;
    uint64_t now = now_ms(), since = now - w->last_pet_ms;
    /* The timer is due every interval; far later means the loop itself was
     * held up (a callback that blocked), which is what the watchdog is for. */
    if (since > 2 * w->interval_ms)
        log_warn("watchdog %s: the event loop did not run for %llu ms (the timeout is %d s)", w->dev,
                 (unsigned long long)since, w->timeout_s);
    int r = watchdog_pet(w);
    if (r < 0 && !w->pet_failing)
        log_error("cannot pet the watchdog %s: %s", w->dev, strerror(-r));
    else if (r == 0 && w->pet_failing)
        log_info("watchdog %s: petting works again", w->dev);
    w->pet_failing = r < 0;
    int64_t t = loop_add_timer(l, w->interval_ms, on_pet_timer, w);
    if (t < 0)
        log_error("cannot arm the watchdog timer for %s: %s: the watchdog will reset the machine", w->dev,
                  strerror((int)-t));
    else
        w->timer = t;
}

/* Gives up on a device opened but not driven: disarm, close, free. */
static void watchdog_free(struct watchdog *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        disarm(w->fd);
        close(w->fd);
    }
    free(w->dev);
    free(w);
}

int watchdog_open(struct watchdog **out, struct loop *l, const char *dev, uint64_t timeout_ms,
                  struct kerr *err)
{
    struct watchdog *w = calloc(1, sizeof *w);
    if (!w || !(w->dev = strdup(dev))) {
        free(w);
        return kerr_set(err, ENOMEM, "cannot set up the watchdog %s", dev);
    }
    w->loop = l;
    w->fd = open(dev, O_WRONLY | O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        watchdog_free(w);
        return kerr_set(err, e, "cannot open the watchdog %s", dev);
    }
    struct stat st;
    if (fstat(w->fd, &st) == 0 && S_ISCHR(st.st_mode))
        w->rdev = st.st_rdev;

    struct watchdog_info info = { 0 };
    if (ioctl(w->fd, WDIOC_GETSUPPORT, &info) < 0) {
        int e = errno;
        watchdog_free(w);
        return kerr_set(err, e, "cannot use %s as a watchdog", dev);
    }
    w->keepalive_ioctl = info.options & WDIOF_KEEPALIVEPING;

    int want = watchdog_timeout_seconds(timeout_ms), got = want;
    if (info.options & WDIOF_SETTIMEOUT) {
        /* The driver may round or clamp: the ioctl writes back what it took. */
        if (ioctl(w->fd, WDIOC_SETTIMEOUT, &got) < 0) {
            int e = errno;
            watchdog_free(w);
            return kerr_set(err, e, "cannot set the timeout of the watchdog %s to %d s", dev, want);
        }
    }
    int now_timeout = 0;
    if (ioctl(w->fd, WDIOC_GETTIMEOUT, &now_timeout) == 0 && now_timeout > 0)
        got = now_timeout;
    else if (!(info.options & WDIOF_SETTIMEOUT)) {
        int e = errno ? errno : EOPNOTSUPP;
        watchdog_free(w);
        return kerr_set(err, e, "cannot learn the timeout of the watchdog %s, which cannot be set", dev);
    }
    w->timeout_s = got;
    w->interval_ms = watchdog_pet_interval_ms(got);

    int r = watchdog_pet(w);
    if (r < 0) {
        watchdog_free(w);
        return kerr_set(err, -r, "cannot pet the watchdog %s", dev);
    }
    int64_t t = loop_add_timer(l, w->interval_ms, on_pet_timer, w);
    if (t < 0) {
        watchdog_free(w);
        return kerr_set(err, (int)-t, "cannot arm the timer of the watchdog %s", dev);
    }
    w->timer = t;
    if (got != want)
        log_warn("watchdog %s (%s): the driver took a timeout of %d s, not %d s", dev, (char *)info.identity,
                 got, want);
    log_info("watchdog %s (%s) armed: timeout %d s, petted every %llu ms", dev, (char *)info.identity, got,
             (unsigned long long)w->interval_ms);
    *out = w;
    return 0;
}

uint64_t watchdog_timeout_ms(const struct watchdog *w)
{
    return w ? (uint64_t)w->timeout_s * 1000 : 0;
}

/* The kernel's own view ("active" / "inactive") from sysfs, into buf; false
 * when it cannot be read (no CONFIG_WATCHDOG_SYSFS, not a watchdog core
 * device).  The legacy misc device has no state file: it is watchdog0. */
static bool read_state(dev_t rdev, char *buf, size_t n)
{
    char path[96];
    if (major(rdev) == WATCHDOG_MISC_MAJOR && minor(rdev) == WATCHDOG_MISC_MINOR)
        snprintf(path, sizeof path, "/sys/class/watchdog/watchdog0/state");
    else
        snprintf(path, sizeof path, "/sys/dev/char/%u:%u/state", major(rdev), minor(rdev));
    _cleanup_free_ char *s = NULL;
    if (!rdev || read_file_at(AT_FDCWD, path, 64, &s, NULL) < 0)
        return false;
    s[strcspn(s, "\n")] = '\0';
    snprintf(buf, n, "%s", s);
    return true;
}

void watchdog_close_clean(struct watchdog *w)
{
    if (!w)
        return;
    if (w->timer > 0)
        loop_cancel_timer(w->loop, w->timer);
    w->timer = 0;
    int r = disarm(w->fd), e = r < 0 ? errno : 0;
    if (close(w->fd) < 0 && r == 0) {
        e = errno;
        r = -e;
    }
    w->fd = -1;
    char state[32];
    bool known = read_state(w->rdev, state, sizeof state);
    if (known && strcmp(state, "inactive") != 0)
        log_error("watchdog %s is still %s after the magic close: it will reset the machine within %d s",
                  w->dev, state, w->timeout_s);
    else if (r < 0)
        log_error("cannot disarm the watchdog %s: %s", w->dev, strerror(e));
    else
        log_info("watchdog %s disarmed%s", w->dev, known ? " (the kernel says: inactive)" : "");
    watchdog_free(w);
}
