/* watchdog.h — the hardware watchdog ([system] watchdog, watchdog_timeout).
 *
 * keel opens the device (which arms it), sets its timeout and pets it from a
 * timer of its one event loop, every third of the timeout the driver actually
 * took.  The pet is a loop callback like any other, so it happens only while
 * the loop runs: a PID 1 stuck in a callback, a dead loop or a frozen keel
 * stops the petting and the device resets the machine.  A clean shutdown
 * disarms it (watchdog_close_clean: magic close 'V' plus WDIOS_DISABLECARD)
 * after the containers are down and before boot_final() powers off.
 *
 * (The VM test makes it fire with daemon.c's test hook keel.test_freeze=S,
 * which stops the loop for good.)
 *
 * Ownership: watchdog_open() returns a `struct watchdog` owned by the caller,
 * released only by watchdog_close_clean(), which must run before loop_free()
 * (it cancels its timer).  Contract: 0 / negative errno with `struct kerr`
 * filled (err.h).
 */
#ifndef KEEL_WATCHDOG_H
#define KEEL_WATCHDOG_H

#include <stdint.h>

#include "keel/err.h"
#include "keel/loop.h"

struct watchdog;

/* Opens `dev` (O_WRONLY|O_CLOEXEC: opening arms it), asks for `timeout_ms`
 * (rounded up to whole seconds, as the ioctl counts them), reads back what the
 * driver took, pets it once and arms the pet timer.  Logs one line saying the
 * timeout in force.  On error nothing stays open. */
int watchdog_open(struct watchdog **out, struct loop *l, const char *dev, uint64_t timeout_ms,
                  struct kerr *err);

/* The timeout the driver uses, in ms. */
uint64_t watchdog_timeout_ms(const struct watchdog *w);

/* Pets it now, outside the timer (before a step that runs outside the loop).
 * 0 / negative errno. */
int watchdog_pet(struct watchdog *w);

/* Clean shutdown: cancels the pet timer, disarms the device (write 'V', the
 * magic close; WDIOC_SETOPTIONS WDIOS_DISABLECARD where the driver has it),
 * closes it, reads the kernel's view of its state back from sysfs where it can,
 * logs the outcome and frees w.  NULL is a no-op. */
void watchdog_close_clean(struct watchdog *w);

/* Pure helpers (unit-tested). */
/* ms -> whole seconds for WDIOC_SETTIMEOUT: rounded up, at least 1, at most INT32_MAX. */
int watchdog_timeout_seconds(uint64_t timeout_ms);
/* How often to pet a device whose timeout is `seconds`: a third of it. */
uint64_t watchdog_pet_interval_ms(int seconds);

#endif
