/*
 * commands.h — the entry points of the `cloison` verbs, one file per verb
 * group: run (cmd_run.c), disks (cmd_disk.c), networks (cmd_net.c), pools
 * and volumes (cmd_storage.c), containers run by hand (cmd_ct.c), VMs run
 * by hand through their control socket (cmd_vmctl.c, cmd_clone.c) and
 * instances of cloisond (cmd_inst.c). Each takes argv with argv[0] the verb.
 */
#ifndef CLOISON_COMMANDS_H
#define CLOISON_COMMANDS_H

#include <stdbool.h>

int cmd_run(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_ct(int argc, char **argv);
int cmd_pool(int argc, char **argv);
/* cmd_cluster.c: `cloison cluster ...` and `cloison ha ...`. */
int cmd_cluster(int argc, char **argv);
int cmd_ha(int argc, char **argv);
/* cmd_token.c: `cloison token ...`. */
int cmd_token(int argc, char **argv);
/* cmd_lb.c: `cloison lb ...`. */
int cmd_lb(int argc, char **argv);
int cmd_volume(int argc, char **argv);
/* cmd_agent.c: through a VM's guest agent. */
int cmd_file(int argc, char **argv);
/* cmd_image.c: cloisond's VM images. */
int cmd_image(int argc, char **argv);
int cmd_agent(int argc, char **argv);
/* A stream to the guest agent of instance `name`, or of the VM run by hand whose control socket is
 * api_sock (when set): the connected fd, or -1 with the error printed. */
int agent_connect(const char *name, const char *api_sock);
/* In the background: once the guest agent answers on vsock_socket, steps the guest's clock to the
 * host's and, for a clone, gives it a new machine-id and SSH host keys (and hostname, when given). */
void agent_identity_after_restore(const char *vsock_socket, const char *hostname, bool clone);
/* Asks the guest agent of the VM whose control socket is api_sock to shut the guest down, and waits up
 * to timeout_s for the VM to end: true when it did. */
bool agent_shutdown_vm(const char *api_sock, unsigned timeout_s);
/* Whether the VM behind api_sock exits (its control socket goes away) within timeout_s seconds. */
bool vm_gone_within(const char *api_sock, unsigned timeout_s);

/* A VM run by hand (`cloison run --api-sock PATH`), named by --sock PATH. */
int vmctl_simple(int argc, char **argv); /* status, stats, pause, resume, stop */
int vmctl_save(int argc, char **argv);
int vmctl_balloon(int argc, char **argv);
int vmctl_migrate(int argc, char **argv); /* also cold, from a saved directory */
int cmd_clone(int argc, char **argv);     /* clones of a saved VM */

/* Instances of cloisond, named by NAME. */
int inst_create(int argc, char **argv);
int inst_lifecycle(int argc, char **argv); /* start, stop, restart */
int inst_pause(int argc, char **argv);     /* pause, resume */
int inst_rm(int argc, char **argv);
int inst_list(int argc, char **argv);
int inst_info(int argc, char **argv);
int inst_stats(int argc, char **argv);
int inst_logs(int argc, char **argv);
int inst_screenshot(int argc, char **argv);
int inst_input(int argc, char **argv);
int inst_console(int argc, char **argv);
int inst_exec(int argc, char **argv);
int inst_snapshot(int argc, char **argv);
int inst_restore(int argc, char **argv);
int inst_clone(int argc, char **argv);
int inst_migrate(int argc, char **argv);
int inst_receive(int argc, char **argv);
int inst_limits(int argc, char **argv);

#endif
