/*
 * commands.h — one entry point per `cloison` verb (one file each).
 */
#ifndef CLOISON_COMMANDS_H
#define CLOISON_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_net(int argc, char **argv);
/* status, stats, pause, resume, stop, save, migrate (argv[0] names which). */
int cmd_vmctl(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_ct(int argc, char **argv);
/* Instances through cloisond: create, start, stop, ... (argv[0] names which). */
int cmd_inst(int argc, char **argv);
/* cloisond's storage pools and volumes. */
int cmd_pool(int argc, char **argv);
int cmd_volume(int argc, char **argv);

#endif
