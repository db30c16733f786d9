/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol as far as a virtio-blk backend needs it.
 * Written from qemu/qemu docs/interop/vhost-user.rst; all fields are
 * little-endian on the wire (x86 only for now, so native).
 */
#ifndef VU_PROTO_H
#define VU_PROTO_H

#include <stdint.h>

enum vu_request {
	VU_REQ_NONE			= 0,
	VU_REQ_GET_FEATURES		= 1,
	VU_REQ_SET_FEATURES		= 2,
	VU_REQ_SET_OWNER		= 3,
	VU_REQ_RESET_OWNER		= 4,
	VU_REQ_SET_MEM_TABLE		= 5,
	VU_REQ_SET_LOG_BASE		= 6,
	VU_REQ_SET_LOG_FD		= 7,
	VU_REQ_SET_VRING_NUM		= 8,
	VU_REQ_SET_VRING_ADDR		= 9,
	VU_REQ_SET_VRING_BASE		= 10,
	VU_REQ_GET_VRING_BASE		= 11,
	VU_REQ_SET_VRING_KICK		= 12,
	VU_REQ_SET_VRING_CALL		= 13,
	VU_REQ_SET_VRING_ERR		= 14,
	VU_REQ_GET_PROTOCOL_FEATURES	= 15,
	VU_REQ_SET_PROTOCOL_FEATURES	= 16,
	VU_REQ_GET_QUEUE_NUM		= 17,
	VU_REQ_SET_VRING_ENABLE		= 18,
	VU_REQ_SEND_RARP		= 19,
	VU_REQ_NET_SET_MTU		= 20,
	VU_REQ_SET_BACKEND_REQ_FD	= 21,
	VU_REQ_IOTLB_MSG		= 22,
	VU_REQ_SET_VRING_ENDIAN		= 23,
	VU_REQ_GET_CONFIG		= 24,
	VU_REQ_SET_CONFIG		= 25,
	VU_REQ_CREATE_CRYPTO_SESSION	= 26,
	VU_REQ_CLOSE_CRYPTO_SESSION	= 27,
	VU_REQ_POSTCOPY_ADVISE		= 28,
	VU_REQ_POSTCOPY_LISTEN		= 29,
	VU_REQ_POSTCOPY_END		= 30,
	VU_REQ_GET_INFLIGHT_FD		= 31,
	VU_REQ_SET_INFLIGHT_FD		= 32,
	VU_REQ_GPU_SET_SOCKET		= 33,
	VU_REQ_RESET_DEVICE		= 34,
	VU_REQ_VRING_KICK		= 35,
	VU_REQ_GET_MAX_MEM_SLOTS	= 36,
	VU_REQ_ADD_MEM_REG		= 37,
	VU_REQ_REM_MEM_REG		= 38,
	VU_REQ_SET_STATUS		= 39,
	VU_REQ_GET_STATUS		= 40,
	VU_REQ_MAX
};

/*
 * Requests the backend sends on the backend-request channel
 * (SET_BACKEND_REQ_FD). CONFIG_CHANGE_MSG has no payload; with
 * NEED_REPLY the frontend answers with a u64, 0 for success.
 */
#define VU_BACKEND_CONFIG_CHANGE_MSG	2

/* Header flags. */
#define VU_VERSION		0x1
#define VU_FLAG_VERSION_MASK	0x3
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)
#define VU_FLAG_KNOWN		(VU_FLAG_VERSION_MASK | VU_FLAG_REPLY | VU_FLAG_NEED_REPLY)

/* Virtio feature bit that enables the protocol-feature negotiation. */
#define VU_F_PROTOCOL_FEATURES	30
/* The vhost feature bit that turns dirty logging on (VHOST_F_LOG_ALL). */
#define VU_F_LOG_ALL		26

/* Protocol features. */
#define VU_PF_MQ			0
#define VU_PF_LOG_SHMFD			1
#define VU_PF_RARP			2
#define VU_PF_REPLY_ACK			3
#define VU_PF_NET_MTU			4
#define VU_PF_BACKEND_REQ		5
#define VU_PF_CROSS_ENDIAN		6
#define VU_PF_CRYPTO_SESSION		7
#define VU_PF_PAGEFAULT			8
#define VU_PF_CONFIG			9
#define VU_PF_BACKEND_SEND_FD		10
#define VU_PF_HOST_NOTIFIER		11
#define VU_PF_INFLIGHT_SHMFD		12
#define VU_PF_RESET_DEVICE		13
#define VU_PF_INBAND_NOTIFICATIONS	14
#define VU_PF_CONFIGURE_MEM_SLOTS	15
#define VU_PF_STATUS			16

/* SET_VRING_KICK/CALL/ERR payload: index in bits 0-7, "no fd" in bit 8. */
#define VU_VRING_IDX_MASK	0xffull
#define VU_VRING_NOFD		(1ull << 8)

/*
 * Limits of this backend. A memory table takes as many regions as there
 * are slots, each with its fd: rust-vmm frontends send up to 32 regions
 * in SET_MEM_TABLE, QEMU up to 8.
 */
#define VU_MAX_MEM_SLOTS	32	/* GET_MAX_MEM_SLOTS answer */
#define VU_MAX_MEM_TABLE_REGIONS VU_MAX_MEM_SLOTS	/* SET_MEM_TABLE */
#define VU_MAX_FDS		VU_MAX_MEM_TABLE_REGIONS	/* fds in one message */
#define VU_MAX_CONFIG_SIZE	256
#define VU_MAX_PAYLOAD		4096	/* larger messages end the connection */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;		/* bit 0: VHOST_VRING_F_LOG */
	uint64_t desc;		/* frontend user addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};
#define VU_VRING_F_LOG		1u

struct vu_region_desc {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vu_mem_table_msg {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region_desc regions[VU_MAX_MEM_TABLE_REGIONS];
};
#define VU_MEM_TABLE_HDR_SIZE	8

struct vu_mem_reg_msg {
	uint64_t padding;
	struct vu_region_desc region;
};

struct vu_config_msg {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VU_MAX_CONFIG_SIZE];
};
#define VU_CONFIG_HDR_SIZE	12

/* SET_LOG_BASE with LOG_SHMFD: the log is in the message's one fd. */
struct vu_log_msg {
	uint64_t mmap_size;
	uint64_t mmap_offset;	/* where the bit of guest page 0 is */
};

struct vu_inflight_msg {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;	/* QEMU's struct is 24 bytes with this padding */
};

/* Their sizes on the wire, which the server checks requests against. */
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state payload");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring address payload");
_Static_assert(sizeof(struct vu_mem_reg_msg) == 40, "memory region payload");
_Static_assert(sizeof(struct vu_inflight_msg) == 24, "inflight payload");
_Static_assert(sizeof(struct vu_log_msg) == 16, "log payload");
_Static_assert(sizeof(struct vu_mem_table_msg) <= VU_MAX_PAYLOAD,
	       "a full memory table fits the payload limit");

/* Every payload this backend parses, for the one receive buffer. */
union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table_msg mem;
	struct vu_mem_reg_msg mem_reg;
	struct vu_config_msg config;
	struct vu_inflight_msg inflight;
	struct vu_log_msg log;
	uint8_t raw[VU_MAX_PAYLOAD];
};

struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	int nfds;
};

#endif
