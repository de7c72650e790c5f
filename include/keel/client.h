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

#endif
