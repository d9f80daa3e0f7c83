/*
 * corosync.c — see corosync.h. The only file that includes corosync's headers.
 */
#include "cluster/corosync.h"

#include <corosync/cpg.h>
#include <corosync/votequorum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct corosync_link {
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	struct cpg_name group;
	struct corosync_events ev;
	uint32_t nodeid;
	int fds[2];
};

static struct corosync_link *link_of_cpg(cpg_handle_t h)
{
	void *ctx = NULL;
	cpg_context_get(h, &ctx);
	return ctx;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
                       size_t len)
{
	(void)group, (void)pid;
	struct corosync_link *l = link_of_cpg(h);
	if (l && l->ev.deliver) l->ev.deliver(l->ev.ctx, nodeid, msg, len);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members,
                       size_t nmembers, const struct cpg_address *left, size_t nleft,
                       const struct cpg_address *joined, size_t njoined)
{
	(void)group, (void)left, (void)nleft, (void)joined, (void)njoined;
	struct corosync_link *l = link_of_cpg(h);
	uint32_t ids[64];
	size_t n = nmembers < 64 ? nmembers : 64;
	for (size_t i = 0; i < n; i++) ids[i] = members[i].nodeid;
	if (l && l->ev.confchg) l->ev.confchg(l->ev.ctx, ids, n);
}

static void on_quorum(votequorum_handle_t h, uint64_t context, uint32_t quorate, uint32_t n,
                      votequorum_node_t nodes[])
{
	(void)h, (void)n, (void)nodes;
	struct corosync_link *l = (struct corosync_link *)(uintptr_t)context;
	if (l && l->ev.quorum) l->ev.quorum(l->ev.ctx, quorate != 0);
}

void corosync_link_close(struct corosync_link *l)
{
	if (!l) return;
	if (l->cpg) {
		cpg_leave(l->cpg, &l->group);
		cpg_finalize(l->cpg);
	}
	if (l->vq) votequorum_finalize(l->vq);
	free(l);
}

struct corosync_link *corosync_link_open(const char *group, const struct corosync_events *ev, char *err,
                                         size_t errlen)
{
	struct corosync_link *l = calloc(1, sizeof(*l));
	if (!l) return snprintf(err, errlen, "out of memory"), NULL;
	l->ev = *ev;
	l->group.length = (uint32_t)snprintf(l->group.value, sizeof(l->group.value), "%s", group);
	cpg_model_v1_data_t model = {
	    .model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg};
	cs_error_t rc = cpg_model_initialize(&l->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, l);
	if (rc != CS_OK) {
		l->cpg = 0;
		snprintf(err, errlen, "cannot reach corosync's CPG service (error %d): is corosync running?",
		         rc);
		goto fail;
	}
	votequorum_callbacks_t cb = {.votequorum_quorum_notify_fn = on_quorum};
	if ((rc = votequorum_initialize(&l->vq, &cb)) != CS_OK) {
		l->vq = 0;
		snprintf(err, errlen, "cannot reach corosync's votequorum service (error %d)", rc);
		goto fail;
	}
	unsigned nodeid = 0;
	if ((rc = cpg_local_get(l->cpg, &nodeid)) != CS_OK ||
	    (rc = cpg_fd_get(l->cpg, &l->fds[0])) != CS_OK ||
	    (rc = votequorum_fd_get(l->vq, &l->fds[1])) != CS_OK ||
	    (rc = votequorum_trackstart(l->vq, (uint64_t)(uintptr_t)l,
	                                CS_TRACK_CHANGES | CS_TRACK_CURRENT)) != CS_OK) {
		snprintf(err, errlen, "corosync: cannot set up the connection (error %d)", rc);
		goto fail;
	}
	l->nodeid = nodeid;
	for (int tries = 0; (rc = cpg_join(l->cpg, &l->group)) == CS_ERR_TRY_AGAIN && tries < 100; tries++) {
	}
	if (rc != CS_OK) {
		snprintf(err, errlen, "corosync: cannot join the group '%s' (error %d)", group, rc);
		goto fail;
	}
	return l;
fail:
	if (l->cpg) cpg_finalize(l->cpg);
	if (l->vq) votequorum_finalize(l->vq);
	free(l);
	return NULL;
}

void corosync_link_fds(const struct corosync_link *l, int fds[2])
{
	fds[0] = l->fds[0];
	fds[1] = l->fds[1];
}

bool corosync_link_dispatch(struct corosync_link *l)
{
	cs_error_t a = cpg_dispatch(l->cpg, CS_DISPATCH_ALL);
	cs_error_t b = votequorum_dispatch(l->vq, CS_DISPATCH_ALL);
	return (a == CS_OK || a == CS_ERR_TRY_AGAIN) && (b == CS_OK || b == CS_ERR_TRY_AGAIN);
}

int corosync_link_send(struct corosync_link *l, const void *msg, size_t len)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	cs_error_t rc = cpg_mcast_joined(l->cpg, CPG_TYPE_AGREED, &iov, 1);
	if (rc == CS_OK) return 0;
	return rc == CS_ERR_TRY_AGAIN ? 1 : -1;
}

uint32_t corosync_link_nodeid(const struct corosync_link *l)
{
	return l->nodeid;
}
