/* slot.h — the A/B payload slots of `keel update` and their state machine.
 *
 * [system] update_volume names a volume holding slots/A, slots/B (each a
 * verified bundle, unpacked: manifest + layers/) and slots/state, a small
 * text file replaced atomically (write, fsync, rename, fsync the directory):
 *
 *     active A        the committed slot; "-" is the image's own manifest
 *     trying B        the slot under test, "-" when none
 *     previous -      the slot active before the last commit (keel rollback)
 *     attempts 1      how often the trying slot was started
 *     committed no    "yes" exactly when trying is "-"
 *
 * The transitions (slot_step) are pure; docs/operations.md draws them:
 *
 *   INSTALL  committed -> trying = the inactive slot, attempts 0 (previous = -
 *                         when it was that slot: its contents are gone)
 *   START    trying    -> attempts + 1 (saved BEFORE the switch starts)
 *   COMMIT   trying    -> previous = active, active = trying, trying = -
 *   FAIL     trying    -> trying = -           (active untouched: rollback)
 *   BOOT     trying, attempts 0  -> attempts 1 (the switch: boot the new slot)
 *            trying, attempts 1+ -> trying = - (a reset while trying = rollback)
 *            committed -> unchanged
 *   ROLLBACK trying    -> as FAIL
 *            committed -> active <-> previous  (EINVAL when previous is -)
 *
 * Forbidden transitions return -EBUSY (INSTALL while trying) or -EINVAL
 * (START/COMMIT/FAIL while committed) and leave the state untouched.
 */
#ifndef KEEL_SLOT_H
#define KEEL_SLOT_H

#include "keel/err.h"

#include <stdbool.h>
#include <stddef.h>

enum slot { SLOT_NONE, SLOT_A, SLOT_B };

enum slot_event { SLOT_EV_INSTALL, SLOT_EV_START, SLOT_EV_COMMIT, SLOT_EV_FAIL, SLOT_EV_BOOT, SLOT_EV_ROLLBACK };

struct slot_state {
    enum slot active, trying, previous;
    unsigned attempts;
};

#define SLOT_STATE_FILE "slots/state"
#define SLOT_STATE_MAX 256

/* "A", "B" or "-". */
const char *slot_name(enum slot s);
const char *slot_event_name(enum slot_event ev);

/* The slot INSTALL writes to: the one that is not active. */
enum slot slot_inactive(const struct slot_state *s);

/* The slot whose manifest runs now: trying when set, else active
 * (SLOT_NONE: the image's manifest). */
enum slot slot_current(const struct slot_state *s);

/* Applies EV; 0 or -EBUSY / -EINVAL (state untouched). */
int slot_step(struct slot_state *s, enum slot_event ev);

/* Text form (see above).  parse: 0 or -EINVAL with "slot state line N:
 * ..." in err; every key exactly once, in any order.  format: the length
 * written, or -ENOSPC. */
int slot_state_parse(const char *buf, size_t len, struct slot_state *s, struct kerr *err);
int slot_state_format(const struct slot_state *s, char *buf, size_t n);

/* DIRFD: the update volume's root.  load: a missing file is the initial
 * state (all "-", 0).  save: atomic and durable (see above). */
int slot_state_load(int dirfd, struct slot_state *s, struct kerr *err);
int slot_state_save(int dirfd, const struct slot_state *s, struct kerr *err);

#endif
