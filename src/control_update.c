/* control_update.c — the update and rollback requests (docs/control.md).
 *
 *   {"op":"update"}                  -> {"ok":true,"op":"update"}
 *   {"op":"chunk","data":"BASE64"}   -> {"ok":true,"op":"chunk"}    (repeated)
 *   {"op":"chunk","eof":true}        -> {"ok":true,"op":"chunk","slot":"B","switch":true}
 *
 * Each chunk is answered before the client sends the next, so PID 1 never
 * holds more than one request line (PROTO_MAX_REQUEST) of the bundle: it
 * goes through the streaming reader into the inactive slot.  Any error
 * answers with ok:false, closes the connection and removes what was written;
 * the slot state changes only after the last chunk verified.  One update at
 * a time.  After the answer to eof, keel stops everything and reboots into
 * the new slot.
 */
#include "keel/control_conn.h"
#include "keel/update.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

void control_update_stop(struct conn *cn)
{
    if (!cn->upd)
        return;
    update_install_free(cn->upd);   /* removes the half-written slot */
    cn->upd = NULL;
    if (cn->c->updating == cn)
        cn->c->updating = NULL;
    log_warn("update: the client went away before the end of the bundle: nothing changed");
}

static void update_error(struct conn *cn, const char *op, const char *msg)
{
    if (cn->upd) {
        update_install_free(cn->upd);
        cn->upd = NULL;
        if (cn->c->updating == cn)
            cn->c->updating = NULL;
    }
    log_error("update: %s", msg);
    control_conn_fail(cn, op, msg);
}

/* One change at a time: an update or a rollback that began while keel
 * stops (after a rollback, for a switch, for a shutdown) would write a slot
 * state that the stop's own transition is changing, and the reboot would
 * run whichever won; one during an apply would interleave with it.  NULL:
 * free to go. */
static const char *busy(const struct conn *cn)
{
    const struct control_backend *be = &cn->c->be;
    return be->busy ? be->busy(be->sup) : NULL;
}

static void ok_line(struct conn *cn, const char *op, const char *slot, bool sw)
{
    control_reply_begin(&cn->out, op, true);
    if (slot)
        json_kstr(&cn->out, "slot", slot);
    if (sw)
        json_kbool(&cn->out, "switch", true);
    control_reply_end(&cn->out);
}

static void chunk(struct conn *cn, const struct proto_request *req)
{
    struct kerr e = { 0 };
    const char *why = busy(cn);
    if (why) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot update the payload: busy: %s: the update was abandoned, nothing changed",
                 why);
        update_error(cn, "chunk", msg);
        return;
    }
    if (req->data_len) {
        _cleanup_free_ unsigned char *buf = malloc(req->data_len / 4 * 3 + 3);
        long n = buf ? json_base64_decode(req->data, req->data_len, buf) : -ENOMEM;
        if (n < 0) {
            update_error(cn, "chunk", "malformed request: bad base64 in \"data\"");
            return;
        }
        if (update_install_feed(cn->upd, buf, (size_t)n, &e) < 0) {
            update_error(cn, "chunk", e.msg);
            return;
        }
    }
    if (!req->eof) {
        ok_line(cn, "chunk", NULL, false);
        return;
    }
    enum slot slot;
    if (update_install_finish(cn->upd, &slot, &e) < 0) {
        update_error(cn, "chunk", e.msg);
        return;
    }
    update_install_free(cn->upd);
    cn->upd = NULL;
    cn->c->updating = NULL;
    ok_line(cn, "chunk", slot_name(slot), true);
    control_conn_flush(cn);
    /* The switch: every container stops in order, then the reboot that runs
     * the new slot (update.h). */
    cn->c->be.request_power(cn->c->be.sup, POWER_REBOOT);
}

void control_update_request(struct conn *cn, const struct proto_request *req)
{
    const char *op = proto_op_name(req->op);
    const struct manifest *m = cn->c->be.update_m;
    struct kerr e = { 0 };
    if (cn->upd) {
        if (req->op != PROTO_OP_CHUNK)
            update_error(cn, op, "malformed request: only chunk is accepted during an update");
        else
            chunk(cn, req);
        return;
    }
    if (req->op == PROTO_OP_CHUNK) {
        control_conn_fail(cn, op, "malformed request: no update is running");
        return;
    }
    if (req->op == PROTO_OP_SLOTS) {
        /* The state after this boot and the last commit or rollback, as
         * update.c records them for this purpose. */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, UPDATE_STATUS_FILE, 4096, &text, &len);
        control_reply_begin(&cn->out, op, true);
        json_key(&cn->out, "slots");
        if (r == 0)
            json_str(&cn->out, text);
        else
            json_null(&cn->out);
        control_reply_end(&cn->out);
        return;
    }
    /* A payload is a manifest: whoever installs one is root on the machine
     * (without update_key, any bundle is accepted). */
    if (!control_conn_is_admin(cn)) {
        control_error_line(&cn->out, op, "permission denied: only root may update or roll back the payload");
        return;
    }
    if (!m || !m->system.update_volume) {
        control_error_line(&cn->out, op, "keel update is off: no [system] update_volume (boot mode only)");
        return;
    }
    const char *why = busy(cn);
    if (why) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot %s: busy: %s: nothing was changed",
                 req->op == PROTO_OP_ROLLBACK ? "roll back" : "update the payload", why);
        control_error_line(&cn->out, op, msg);
        return;
    }
    if (req->op == PROTO_OP_ROLLBACK) {
        if (cn->c->updating) {
            control_error_line(&cn->out, op, "an update is being received");
            return;
        }
        if (update_rollback(m, &e) < 0) {
            control_error_line(&cn->out, op, e.msg);
            return;
        }
        ok_line(cn, op, NULL, true);
        control_conn_flush(cn);
        cn->c->be.request_power(cn->c->be.sup, POWER_REBOOT);
        return;
    }
    if (cn->c->updating) {
        control_error_line(&cn->out, op, "another update is being received");
        return;
    }
    if (update_install_begin(m, &cn->upd, &e) < 0) {
        control_error_line(&cn->out, op, e.msg);
        return;
    }
    cn->c->updating = cn;
    ok_line(cn, op, NULL, false);
}
