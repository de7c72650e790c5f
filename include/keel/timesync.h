/* timesync.h — the machine's clock in boot mode: the SNTP client's system half
 * (a UDP exchange on keel's loop, stepping or slewing CLOCK_REALTIME) and the
 * saved clock ([system] clock_file).  The packets and the arithmetic are
 * sntp.h's.
 *
 * Only PID 1 uses this module: `keel run` on a host never creates a client
 * and never reads or writes the clock file (the host's clock belongs to the
 * host's own time daemon).
 *
 * The client: one request at a time to one server, from a fresh connected
 * UDP socket (a new random source port each time) with a 64-bit random nonce
 * as its transmit timestamp; a reply must come from the server's address and
 * port and carry the nonce.  An attempt that gets no usable reply within
 * TIMESYNC_ATTEMPT_MS moves to the next server, after a delay that doubles
 * from 1 s up to 64 s and is reset by a good sample (the client never gives
 * up: a container that `depends = clock` waits for it).  After a good sample
 * the next poll is 64 s later, doubling up to 1024 s.  Each good sample
 * steps the clock (clock_settime) when it is off by more than
 * TIMESYNC_STEP_NS, and slews it otherwise (adjtimex ADJ_OFFSET_SINGLESHOT,
 * the kernel's 0.5 ms/s).  The first good sample, once applied, calls the
 * `synced` callback, once.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h). */
#ifndef KEEL_TIMESYNC_H
#define KEEL_TIMESYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "keel/err.h"
#include "keel/loop.h"

#define TIMESYNC_STEP_NS 1000000000LL   /* step above 1 s of offset, slew below */
#define TIMESYNC_ATTEMPT_MS 2000        /* wait for one reply */

struct timesync;
typedef void (*timesync_synced_cb)(void *data);

/* The clock the client reads (T1, T4) and corrects.  NULL to timesync_new:
 * the machine's CLOCK_REALTIME (clock_settime, adjtimex); the unit tests
 * give a clock of their own, so they never touch the machine's. */
struct timesync_clock {
    int64_t (*now)(void *ctx);                                       /* Unix ns */
    int (*step)(void *ctx, int64_t offset_ns, struct kerr *err);     /* 0 / negative errno */
    int (*slew)(void *ctx, int64_t offset_ns, struct kerr *err);
    void *ctx;
};

/* A client on `l` for `servers` ("IPv4[:PORT]" as sntp_parse_server takes
 * them; NULL or empty: idle until timesync_set_servers gives some).  The
 * first request goes out from the loop at once. */
int timesync_new(struct timesync **out, struct loop *l, char *const *servers, const struct timesync_clock *clock,
                 timesync_synced_cb synced, void *data, struct kerr *err);
/* Replaces the servers (the manifest's, or those a DHCP lease names): the
 * exchange in flight is dropped and the next request goes to the first new
 * server at once.  The same list again (a lease renewed) changes nothing.
 * -EINVAL (nothing changed) when one is not an address. */
int timesync_set_servers(struct timesync *ts, char *const *servers, struct kerr *err);
/* True once a sample was applied. */
bool timesync_synced(const struct timesync *ts);
/* Closes the socket and cancels the timer (the loop must still exist). */
void timesync_free(struct timesync *ts);

/* The saved clock.  The file holds Unix seconds as one decimal line. */
/* Pure: "SECONDS\n" -> *sec; -EINVAL for anything else or a time before
 * 2000 or after 2200 (a file that is not ours, or damaged). */
int timesync_saved_parse(const char *text, int64_t *sec);
/* At boot, before anything depends on time: sets CLOCK_REALTIME to the saved
 * time when, and only when, it is ahead of the clock now (the RTC's time):
 * the clock never moves backwards.  1 when it was set, 0 when not (the file
 * is absent: a first boot; or the clock is ahead), negative errno when the
 * file is unreadable or damaged or the clock cannot be set. */
int timesync_restore(const char *path, struct kerr *err);
/* True when the directory of `path` is on a file system that a poweroff
 * empties (tmpfs, ramfs: the initramfs): the saved clock would restore
 * nothing there.  False when it cannot tell. */
bool timesync_file_volatile(const char *path);
/* At shutdown: writes the time now to `path` (through PATH.tmp, fsync'd and
 * renamed, so a power cut leaves the old file or the new one). */
int timesync_save(const char *path, struct kerr *err);

#endif
