/* update.h — keel update: bundles into A/B slots, the boot's choice of slot,
 * and the health-gated commit or rollback (docs/operations.md, "Payload
 * updates").
 *
 * The switch to a new slot is a full stop and a reboot: every container
 * stops in order, the machine restarts, and boot mode (which reads the slot
 * state before it picks the manifest to serve) runs the new slot once.  If
 * it has not committed by the next boot, whatever caused that boot (a
 * watchdog reset, a power cut, a crash loop, keel's own rollback) makes the
 * old slot run again.  Every function here needs [system] update_volume;
 * without it they fail with -ENOTSUP.
 */
#ifndef KEEL_UPDATE_H
#define KEEL_UPDATE_H

#include "keel/err.h"
#include "keel/loop.h"
#include "keel/manifest.h"
#include "keel/slot.h"

#include <stdbool.h>
#include <stddef.h>

struct supervisor;

#define UPDATE_STATUS_FILE "/run/keel/update"   /* the slot state and the last outcome, for keel status */

/* Boot mode, after the volumes are mounted (M: the manifest that names
 * them).  Applies the BOOT transition and saves it, points BUNDLE_SLOT_LINK
 * at the slot to run and returns 1 with *path (malloc'd) its manifest, or
 * 0 when the image's manifest runs (no slot yet, no update_volume, or an
 * unreadable state file, logged).  *state gets the state after the boot. */
int update_boot_select(const struct manifest *m, struct slot_state *state, char **path, struct kerr *err);

/* The slot being tried could not even be loaded: FAIL saved (the caller
 * reboots into the old slot). */
int update_fail(const struct manifest *m, const char *why, struct kerr *err);

/* keel rollback: abandon the try, or go back to the previous slot.  Saved;
 * the caller reboots. */
int update_rollback(const struct manifest *m, struct kerr *err);

/* --- the confirm window -------------------------------------------------- */

/* Watches the containers of the slot being tried (state.trying set): every
 * `main` container and every one with a health check must be running (and
 * healthy, where checked) when update_confirm has passed; one that fails,
 * exits non-zero, or is declared unhealthy ends the try at once.  DONE is
 * called once with commit true (COMMIT saved) or false (FAIL saved: the
 * caller reboots into the old slot).  Either is also an EV_UPDATE event
 * (name "slot X", detail "commit: ..." / "rollback: ...") on `keel events`. */
struct update_watch;
typedef void (*update_done_cb)(bool commit, const char *why, void *data);
int update_watch_new(struct update_watch **out, struct loop *l, struct supervisor *sup, const struct manifest *m,
                     enum slot trying, update_done_cb done, void *data, struct kerr *err);
/* A main container finished with STATUS while the try runs: decides now. */
void update_watch_main_exited(struct update_watch *w, int status);
void update_watch_free(struct update_watch *w);

/* --- installing a bundle (the control op) ------------------------------- */

/* The bundle is written to slots/X.new as it streams in (never held in
 * memory), verified (every digest, the signature with update_key), its
 * manifest checked, and only then renamed to slots/X and INSTALL saved.
 * Anything short of finish leaves the slot state untouched. */
struct update_install;
int update_install_begin(const struct manifest *m, struct update_install **out, struct kerr *err);
int update_install_feed(struct update_install *u, const void *buf, size_t n, struct kerr *err);
/* 0: installed, *slot says where; the caller reboots to switch. */
int update_install_finish(struct update_install *u, enum slot *slot, struct kerr *err);
/* Frees U; removes slots/X.new unless finish succeeded. */
void update_install_free(struct update_install *u);

#endif
