/* link/no-unwind.c — the two names glibc's static objects give libgcc's
 * unwinder, defined here so that the unwinder (~24 KiB: unwind-dw2,
 * unwind-dw2-fde-dip, unwind-c) stays out of the static keel (issue 17).
 * _Unwind_Resume ends the landing pads of glibc's cleanup regions (stdio's
 * locks) and __gcc_personality_v0 is those regions' personality routine:
 * both run only while an exception or a thread cancellation unwinds the
 * stack, and nothing in keel unwinds (link/no-unwind.ld: no unwind tables
 * are linked, so libgcc's unwinder would find no frame anyway).  Linked
 * into build/keel and build/test/keel only, never into the dynamic builds.
 * Should a library start to need the unwinder (a call of pthread_exit,
 * _Unwind_Backtrace, ...), its member comes back with its own definitions of
 * these two and the link fails on the duplicates: loud, not silent. */
#include <stdlib.h>
#include <unwind.h>

_Unwind_Reason_Code __gcc_personality_v0(int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
                                         struct _Unwind_Exception *e, struct _Unwind_Context *ctx);

void _Unwind_Resume(struct _Unwind_Exception *e)
{
    (void)e;
    abort();   /* unreachable: no unwinder ever enters a landing pad */
}

_Unwind_Reason_Code __gcc_personality_v0(int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
                                         struct _Unwind_Exception *e, struct _Unwind_Context *ctx)
{
    (void)version, (void)actions, (void)cls, (void)e, (void)ctx;
    return _URC_FATAL_PHASE1_ERROR;
}
