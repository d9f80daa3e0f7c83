/*
 * fuzz_virtio_vsock.c — libFuzzer harness for virtio-vsock's guest-facing
 * side: the input is a small header (queue size, a guest CID) followed by
 * guest RAM holding the three queues' rings, descriptors and packets (all
 * guest-controlled). A host program is connected on the device's unix socket
 * and asks for guest port 1024 before the queues are notified, so packets
 * that answer it reach the connection paths; then the device is serviced a
 * few times, restored (the transport reset event) and reset. RAM is an
 * exact-size allocation so any access outside it trips AddressSanitizer.
 */
#include "virtio/vsock.h"
#include "fuzz_virtio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void no_irq(void *o, bool level)
{
	(void)o, (void)level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint16_t qsize;
		uint8_t host_writes;
	} hdr;
	if (size < sizeof(hdr) + 0x3000) return 0;
	memcpy(&hdr, data, sizeof(hdr));
	size_t ram_size = size - sizeof(hdr);
	uint8_t *host = malloc(ram_size);
	memcpy(host, data + sizeof(hdr), ram_size);
	struct guest_ram ram = {.host = host, .base = RAM_BASE, .size = ram_size};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char path[64];
	if (!path[0]) snprintf(path, sizeof(path), "/tmp/fuzz-vsock-%d.sock", (int)getpid());
	char err[256];
	struct virtio_vsock *v = virtio_vsock_create(3, path, &ram, &lock, err, sizeof(err));
	if (!v) abort();
	struct virtio_mmio *t = &v->transport;
	t->set_irq = no_irq;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) abort();
	ssize_t w = write(fd, "CONNECT 1024\n", 13);
	(void)w;
	fuzz_virtio_attach(t, 0, 3, hdr.qsize);
	virtio_vsock_service(v);
	for (unsigned round = 0; round < 3; round++) {
		if (hdr.host_writes & (1u << round)) w = write(fd, data, size < 3000 ? size : 3000);
		for (unsigned q = 0; q < 4; q++) virtio_mmio_write(t, 0x050, 4, q);
		virtio_vsock_service(v);
	}
	char sink[4096];
	while (read(fd, sink, sizeof(sink)) > 0) {
	}
	close(fd);
	virtio_vsock_service(v);
	uint64_t val;
	for (uint64_t off = 0x100; off < 0x108; off += 4) virtio_mmio_read(t, off, 4, &val);
	virtio_mmio_write(t, 0x070, 4, 0);
	virtio_vsock_service(v);
	virtio_vsock_destroy(v);
	free(host);
	return 0;
}
