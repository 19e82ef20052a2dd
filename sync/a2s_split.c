/* a2s_split.c - Source split replies: cut a long reply into parts, and
 * reassemble one, every header checked before anything is stored. Pure. */
#include <errno.h>
#include <string.h>

#include "a2s_wire.h"

/* ---- split replies ---- */

int a2s_split_count(size_t len)
{
	if (len > A2S_REPLY_MAX)
		return -EMSGSIZE;
	if (len <= A2S_PACKET_MAX)
		return 1;
	return (int)((len + A2S_SPLIT_PAYLOAD - 1) / A2S_SPLIT_PAYLOAD);
}

int a2s_split_build(const uint8_t *reply, size_t len, uint32_t id, unsigned number, uint8_t *out,
		    size_t cap)
{
	int parts = a2s_split_count(len);
	size_t off, n;

	if (parts < 0)
		return parts;
	if (number >= (unsigned)parts)
		return -EINVAL;
	if (parts == 1) { /* needs no split: the reply is its own only part */
		if (cap < len)
			return -ENOSPC;
		memcpy(out, reply, len);
		return (int)len;
	}
	off = (size_t)number * A2S_SPLIT_PAYLOAD;
	n = len - off < A2S_SPLIT_PAYLOAD ? len - off : A2S_SPLIT_PAYLOAD;
	if (cap < A2S_SPLIT_HDR_LEN + n)
		return -ENOSPC;
	put32(out, A2S_HDR_SPLIT);
	put32(out + 4, id & 0x7fffffffu); /* bit 31 would claim bzip2 compression */
	out[8] = (uint8_t)parts;
	out[9] = (uint8_t)number;
	put16(out + 10, A2S_SPLIT_PAYLOAD);
	memcpy(out + A2S_SPLIT_HDR_LEN, reply + off, n);
	return (int)(A2S_SPLIT_HDR_LEN + n);
}

int a2s_split_hdr_parse(const uint8_t *pkt, size_t len, struct a2s_split_hdr *h,
			const char **what)
{
	size_t payload;

	if (len < A2S_SPLIT_HDR_LEN || le32(pkt) != A2S_HDR_SPLIT) {
		*what = "split header";
		return -EBADMSG;
	}
	h->id = le32(pkt + 4);
	h->total = pkt[8];
	h->number = pkt[9];
	h->size = le16(pkt + 10);
	payload = len - A2S_SPLIT_HDR_LEN;
	if (h->id & 0x80000000u) {
		*what = "bzip2-compressed answer (unsupported)";
		return -EOPNOTSUPP;
	}
	if (h->total == 0 || h->total > A2S_SPLIT_MAX_PARTS) {
		*what = "split total (1-64 parts)";
		return -EBADMSG;
	}
	if (h->number >= h->total) {
		*what = "split number (not below total)";
		return -EBADMSG;
	}
	/* An engine that leaves the size out (2006-era) lands here: its payload starts with
	 * FF FF, read as size 65535. */
	if (h->size == 0 || h->size > A2S_PACKET_MAX) {
		*what = "split size (1-1400)";
		return -EBADMSG;
	}
	if (payload == 0 || payload > h->size) {
		*what = "split payload (empty or longer than size)";
		return -EBADMSG;
	}
	return 0;
}

long a2s_split_need(const struct a2s_split_hdr *h)
{
	long need = (long)h->total * h->size;

	return need > A2S_REPLY_MAX ? -EMSGSIZE : need;
}

void a2s_asm_init(struct a2s_asm *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

int a2s_asm_missing(const struct a2s_asm *a)
{
	return a->started ? (int)(a->first.total - a->have) : -1;
}

int a2s_asm_add(struct a2s_asm *a, const uint8_t *pkt, size_t len, const char **what)
{
	struct a2s_split_hdr h;
	size_t plen, off = 0;
	long need;
	int rc = a2s_split_hdr_parse(pkt, len, &h, what);

	if (rc)
		return rc;
	if (!a->started) {
		/* Every size is known from the first part: checked before a byte is stored. */
		need = a2s_split_need(&h);
		if (need < 0 || (size_t)need > a->cap) {
			*what = need < 0 ? "answer larger than 64 KiB" : "answer larger than the buffer";
			return -EMSGSIZE;
		}
		a->started = true;
		a->first = h;
	} else if (h.id != a->first.id) {
		*what = "part of another answer (id)";
		return -ESTALE;
	} else if (h.total != a->first.total || h.size != a->first.size) {
		*what = h.total != a->first.total ? "split total changed" : "split size changed";
		return -EBADMSG;
	}
	if (a->seen & 1ULL << h.number) {
		*what = "duplicate part";
		return -EALREADY;
	}
	plen = len - A2S_SPLIT_HDR_LEN;
	/* Part i goes to slot i of `size` bytes; complete, the slots are packed in order. */
	memcpy(a->buf + (size_t)h.number * h.size, pkt + A2S_SPLIT_HDR_LEN, plen);
	a->part_len[h.number] = (uint16_t)plen;
	a->seen |= 1ULL << h.number;
	if (++a->have < a->first.total)
		return 0;
	for (unsigned i = 0; i < a->first.total; i++) {
		memmove(a->buf + off, a->buf + (size_t)i * a->first.size, a->part_len[i]);
		off += a->part_len[i];
	}
	a->len = off;
	if (off < 5 || !simple_hdr(a->buf)) {
		*what = "reassembled reply has no FF FF FF FF header";
		return -EBADMSG;
	}
	return 1;
}
