/*
 * daemon.h — cloisond's shared state: the instances it manages (VMs, each
 * one `cloison run` process; containers, each one supervised init), their
 * runtime state, the operations under way, and the paths and database
 * behind them. One lock guards all of it; long work (starting, stopping,
 * saving) runs with the instance marked busy and the lock released.
 */
#ifndef CLOISON_DAEMON_DAEMON_H
#define CLOISON_DAEMON_DAEMON_H

#include "container/cgroup.h"
#include "daemon/db.h"
#include "daemon/def.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum inst_state { ST_STOPPED, ST_STARTING, ST_RUNNING, ST_PAUSED, ST_STOPPING, ST_CRASHED };
const char *inst_state_name(enum inst_state s);

struct instance {
	struct inst_def def;
	int64_t created_at;
	/* Runtime (VMs: the `cloison run` process; containers: read back from the engine's record). */
	enum inst_state state;
	pid_t pid;
	uint64_t pid_start;
	int pidfd; /* -1: none */
	int64_t started_at;
	int exit_code;
	char message[256];  /* why it stopped or crashed */
	struct cg_group cg; /* VMs: the instance's cgroup */
	bool has_cg;
	/* Containers: which engine record (state.json: inode, size, mtime) the state was last read from;
	 * while it is unchanged and init's pidfd has not fired, the state is current. */
	uint64_t rec_key[3];
	const char *busy;  /* the operation holding it ("start", ...), NULL when free */
	bool removed;      /* deleted: freed when the last reference goes */
	bool ha;           /* an HA instance this host owns: its VM runs under the host's lease */
	uint64_t arriving; /* monotonic ns: made here to receive a migration from its owner (cluster.c) */
	int refs;          /* requests and operations using it (lock held to change) */
};

struct daemon {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* an operation finished */
	struct db *db;
	struct instance **insts;
	size_t ninsts, cap;
	char state_dir[PATH_MAX], run_dir[PATH_MAX], socket_path[108];
	char exe[PATH_MAX]; /* the cloison binary VMs and containers are started with */
	struct cg_host cg;
	bool have_cg;
	int monitor_wake; /* eventfd: the set of processes to watch changed */
	uint64_t started_ns;
	uint64_t requests;          /* served, for /metrics */
	struct op *ops;             /* newest first */
	struct cluster *cluster;    /* NULL: this host is in no cluster (daemon/cluster.c) */
	struct token_table *tokens; /* the remote listener's API tokens (tokens.c) */
	json_t *lbs;                /* load balancers of a host in no cluster: name -> definition (lb.c) */
	uint64_t next_op;
};

/* A long operation (start, stop, snapshot...): what a client waits on. */
struct op {
	uint64_t id;
	char kind[16], instance[INST_NAME_MAX + 1]; /* instance: "" when the operation is on a resource */
	char resource[160];                         /* e.g. "storage-pools/default/volumes/disk.qcow2" */
	uint64_t progress_done, progress_total;     /* bytes; updated atomically while running */
	const char *status;                         /* "running", "success", "failure" */
	char error[512];
	int64_t created_at, finished_at;
	struct op *next;
};

/* Lookup (lock held). */
struct instance *daemon_find(struct daemon *d, const char *name);
/* Adds a reference / drops one, freeing a removed instance with the last (lock held). */
void inst_get(struct instance *in);
void inst_put(struct instance *in);
/* Takes an instance out of the table (lock held). */
void daemon_unlink(struct daemon *d, struct instance *in);
/* Adds a new instance to the table (lock held); false when out of memory. */
bool daemon_add(struct daemon *d, struct instance *in);
/* Adds an instance made from a definition (taken over, even on failure) to the table, the database and
 * its directory, after checking what it names exists on this host (lock held). NULL with e set. */
struct error;
struct instance *daemon_create_instance(struct daemon *d, struct inst_def *def, struct error *e);
/* Undoes daemon_create_instance for an instance that never ran (lock held; may free it). */
void daemon_discard_instance(struct daemon *d, struct instance *in);
/* Saves the runtime row of an instance (lock held). */
void daemon_save_runtime(struct daemon *d, struct instance *in);
/* DIR/instances/NAME and files in it. */
void inst_path(struct daemon *d, const struct instance *in, const char *file, char *buf, size_t len);
/* The process monitor (monitor.c): its eventfd, then its thread. */
bool daemon_monitor_init(struct daemon *d, char *err, size_t errlen);
void daemon_monitor_start(struct daemon *d);
/* Wakes the process monitor after a pidfd was added. */
void daemon_wake_monitor(struct daemon *d);
/* Brings an instance's state up to date (containers: from the engine's record). Lock held. */
void daemon_refresh(struct daemon *d, struct instance *in);
/* Loads every instance the database records and lets its driver adopt it (lock held). */
bool daemon_load_instances(struct daemon *d, char *err, size_t errlen);
/* Closes the journal entries of operations the last daemon did not finish, carrying forward what the
 * instances' reconciliation at load does not cover (lock held). */
bool daemon_replay_journal(struct daemon *d, char *err, size_t errlen);

#endif
