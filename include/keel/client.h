/* client.h — keel's client verbs (keel ps, logs, exec, ...): the docker to
 * keel's dockerd, speaking the protocol of docs/control.md.
 *
 * Each verb is `int client_cmd_NAME(int argc, char **argv)` with argv[0] the
 * verb's name; it parses its own options (getopt_long), talks to the server
 * and returns the process exit status: 0 on success, 1 for an error (one
 * line "keel: error: ..." on stderr), 2 for bad usage, and for exec the
 * command's own exit status.  The CLI may exit; so client verbs are allowed
 * to block, but they never exit() themselves.
 *
 * The server: -H URL / --host URL, else $KEEL_HOST, else
 * unix:///run/keel.sock.  tcp://IP:PORT needs --tlscert/--tlskey/--tlscacert
 * (or $KEEL_TLS_CERT, $KEEL_TLS_KEY, $KEEL_TLS_CACERT); the server's
 * certificate must chain to the CA and name the IP (an iPAddress
 * subjectAltName, or the IP as its common name).  vsock://CID:PORT reaches a
 * guest from its host (CID 1 is the local machine).
 */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <stdio.h>

struct json_value;

struct client_verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;      /* one line for `keel help` */
};

/* Terminated by an entry with name NULL. */
extern const struct client_verb client_verbs[];

int client_cmd_ps(int argc, char **argv);
int client_cmd_cp(int argc, char **argv);
int client_cmd_status(int argc, char **argv);
int client_cmd_logs(int argc, char **argv);
int client_cmd_start(int argc, char **argv);
int client_cmd_stop(int argc, char **argv);
int client_cmd_restart(int argc, char **argv);
int client_cmd_kill(int argc, char **argv);
int client_cmd_exec(int argc, char **argv);
int client_cmd_stats(int argc, char **argv);
int client_cmd_events(int argc, char **argv);
int client_cmd_poweroff(int argc, char **argv);
int client_cmd_reboot(int argc, char **argv);
int client_cmd_update(int argc, char **argv);
int client_cmd_rollback(int argc, char **argv);
int client_cmd_halt(int argc, char **argv);
int client_cmd_apply(int argc, char **argv);

/* --- the printers: what a server's answer prints as ---------------------------
 *
 * A server's answer is not trusted to be text: a hostile server, or whatever
 * answers at a tcp:// or vsock:// address, decides every byte of it.  Every
 * string of it that a verb prints (names, states, keys, details, addresses,
 * apply's plan, the slots, the server's error messages) goes through
 * output_escape(): a control character but tab (and the newlines of a
 * text of lines), DEL, a C1 control or a byte that is not UTF-8 is shown
 * as \xNN and never reaches the terminal.  --json prints JSON (control
 * characters and DEL as \u00NN).  Raw by design: keel logs into a file or
 * a pipe (the bytes as logged; on a terminal it escapes them too), keel
 * exec's output (the command's own, as a terminal session is) and keel cp's
 * data.  tests/fuzz/fuzz_client.c checks the printers against any answer. */
enum client_answer {
    CLIENT_ANSWER_PS,         /* {"containers":[...]} as keel ps's table */
    CLIENT_ANSWER_STATS,      /* {"stats":[...]} as keel stats's table */
    CLIENT_ANSWER_STATUS,     /* {"container":{...}} as keel status NAME */
    CLIENT_ANSWER_UPLINKS,    /* {"machine":{"uplinks":[...]}} as keel status */
    CLIENT_ANSWER_SLOTS,      /* {"slots":"TEXT"}, the rest of keel status */
    CLIENT_ANSWER_EVENT,      /* one line of keel events */
    CLIENT_ANSWER_APPLY,      /* keel apply's plan and outcome or error */
    CLIENT_ANSWER_ERROR,      /* {"ok":false,"error":"..."}: keel: error: ... */
    CLIENT_ANSWER_LOG_LINE,   /* {"line":"..."}: keel logs to a terminal */
};

/* Prints ANSWER to F as the verb prints it without --json (its errors to F
 * too).  0, or 1 for an answer the verb does not understand (nothing
 * printed) or an error printed. */
int client_print_answer(FILE *f, enum client_answer what, const struct json_value *answer);

#endif
