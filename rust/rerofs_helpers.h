/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for rerofs: only what Rust cannot reach through kernel::bindings in
 * 6.12 (static inlines, macros, and fs_context, whose header bindgen does not see).
 */
#ifndef _RERO_HELPERS_H
#define _RERO_HELPERS_H

#include <linux/types.h>

struct file_system_type;
struct fs_context;
struct super_block;
struct folio;
struct file;
struct dentry;

struct rerofs_mount_opts;

/* verity= mount option values (rerofs_opts_verity). */
#define RERO_VERITY_ON 0
#define RERO_VERITY_OFF 1
#define RERO_VERITY_REQUIRE 2
/* io= mount option values (rerofs_opts_io; 0: not given). */
#define RERO_IO_DIRECT 1
#define RERO_IO_BUFFERED 2
struct seq_file;

struct inode;
struct posix_acl;

/*
 * The Rust callbacks the C glue calls: the fs_context's fill_super and
 * reconfigure, and the xattr handlers' get (rust/vfs/registration.rs fills the
 * table and hands it over with rerofs_set_vfs_ops before registering the type).
 */
struct rerofs_vfs_ops {
	int (*fill_super)(struct super_block *sb, const char *source,
			  struct rerofs_mount_opts *opts, int silent);
	int (*reconfigure)(struct super_block *sb, struct rerofs_mount_opts *opts);
	int (*getxattr)(struct inode *inode, int index, const char *name,
			void *buffer, size_t size);
};

/*
 * Implemented in C (rust/rerofs_helpers.c). The Rust declarations are generated
 * from this header by bindgen at build time (see Kbuild).
 */
void rerofs_set_vfs_ops(const struct rerofs_vfs_ops *ops);

struct kmem_cache;
/*
 * The slab cache of the per-inode data (kmem_cache_create is a macro in 6.12):
 * accounted to the memory cgroup and reclaimable, as EROFS's inode cache.
 */
struct kmem_cache *rerofs_info_cache_create(const char *name, unsigned int size,
					    unsigned int align);
int rerofs_init_fs_context(struct fs_context *fc);
loff_t rerofs_file_size(struct file *file);
int rerofs_file_willneed(struct file *file, loff_t pos, loff_t len);
umode_t rerofs_file_mode(struct file *file);
int rerofs_file_stack_depth(struct file *file);
bool rerofs_opts_verity_set(const struct rerofs_mount_opts *opts);
const unsigned char *rerofs_dentry_name(const struct dentry *dentry, u32 *len);
loff_t rerofs_folio_pos(struct folio *folio);
size_t rerofs_folio_size(struct folio *folio);
void *rerofs_kmap_local_folio(struct folio *folio, size_t offset);
void rerofs_kunmap_local(const void *addr);
void rerofs_folio_end_read(struct folio *folio, bool success);
struct folio *rerofs_read_inode_folio(struct inode *inode, unsigned long index);
void rerofs_folio_put(struct folio *folio);
struct ratelimit_state;
struct ratelimit_state *rerofs_ratelimit_new(void);
void rerofs_ratelimit_free(struct ratelimit_state *rs);
bool rerofs_ratelimit(struct ratelimit_state *rs);
void rerofs_sb_set_xattr(struct super_block *sb);
bool rerofs_may_list_trusted(void);
struct posix_acl *rerofs_get_inode_acl(struct inode *inode, int type, bool rcu);
unsigned int rerofs_opts_ndevices(const struct rerofs_mount_opts *opts);
const char *rerofs_opts_blobdir(const struct rerofs_mount_opts *opts);
const char *rerofs_opts_digest(const struct rerofs_mount_opts *opts);
int rerofs_opts_verity(const struct rerofs_mount_opts *opts);
int rerofs_crypto_init(void);
void rerofs_crypto_exit(void);
int rerofs_sha256(const void *data, size_t len, u8 *out);
int rerofs_verify_pkcs7(const void *msg, size_t msg_len, const void *sig, size_t sig_len);
int rerofs_keyring_init(void);
void rerofs_keyring_exit(void);
bool rerofs_require_verity(void);
const char *rerofs_opts_device(const struct rerofs_mount_opts *opts, unsigned int i);
void rerofs_seq_show_option(struct seq_file *m, const char *name, const char *value);
void rerofs_sb_set_readonly(struct super_block *sb);
struct inode *rerofs_folio_inode(struct folio *folio);
struct kstatfs;
struct readahead_control;
struct folio *rerofs_readahead_folio(struct readahead_control *rac);
/* The most folios read in one batch (and one backing-file read). */
#define RERO_MAX_BATCH 64
ssize_t rerofs_read_folios(struct file *file, loff_t pos, struct folio **folios,
			   unsigned int nr, size_t len, bool direct);
struct inode *rerofs_readahead_inode(struct readahead_control *rac);
void rerofs_fill_statfs(struct kstatfs *buf, u32 magic, u64 blocks, u64 files,
			u32 fsid0, u32 fsid1);
struct inode *rerofs_cache_new(struct super_block *sb);
void rerofs_cache_put(struct inode *inode);
int rerofs_cache_read(struct inode *inode, unsigned long index, size_t off, void *buf,
		      size_t len);
int rerofs_cache_insert(struct inode *inode, unsigned long index, const void *data);

/*
 * The on-demand channel (/dev/rerofs-ondemand): the C side is the misc device;
 * these Rust callbacks (rust/ondemand.rs) own the requests. take() copies the
 * next unsent request record into rec (returns its size, 0 when none is
 * pending); complete() takes a completion record; open() fails with -EBUSY when
 * a daemon has the device open already.
 */
#define RERO_ONDEMAND_REQUEST_SIZE 64
#define RERO_ONDEMAND_COMPLETION_SIZE 16
struct rerofs_ondemand_ops {
	int (*open)(const void *ctx);
	void (*release)(const void *ctx);
	int (*take)(const void *ctx, u8 *rec, size_t len);
	int (*complete)(const void *ctx, const u8 *rec, size_t len);
	bool (*pending)(const void *ctx);
};
struct completion;
bool rerofs_opts_ondemand(const struct rerofs_mount_opts *opts);
int rerofs_opts_io(const struct rerofs_mount_opts *opts);
unsigned int rerofs_ondemand_timeout_ms(void);
void rerofs_ondemand_wake(void);
int rerofs_ondemand_register(const struct rerofs_ondemand_ops *ops, const void *ctx);
void rerofs_ondemand_unregister(void);
const void *rerofs_ondemand_ctx(void);
struct completion *rerofs_completion_new(void);
void rerofs_completion_free(struct completion *c);
void rerofs_completion_done(struct completion *c);
int rerofs_completion_wait(struct completion *c, unsigned int ms);
const char *rerofs_opts_key(const struct rerofs_mount_opts *opts);
void rerofs_wipe(void *p, size_t len);
int rerofs_logon_key(const char *desc, u8 *out, size_t len, size_t *found);
/*
 * Opaque handles of a crypto_aead ("gcm(aes)") and a crypto_skcipher
 * ("xts(aes)"): the crypto headers are not in 6.12's Rust bindings.
 */
struct rerofs_gcm;
struct rerofs_xts;
int rerofs_gcm_new(const u8 *key, unsigned int keylen, struct rerofs_gcm **out);
void rerofs_gcm_free(struct rerofs_gcm *gcm);
int rerofs_gcm_decrypt(struct rerofs_gcm *gcm, const u8 *nonce12, const u8 *ad,
		       size_t adlen, const u8 *ct, size_t ctlen, const u8 *tag16, u8 *out);
int rerofs_xts_new(struct rerofs_xts **out);
void rerofs_xts_free(struct rerofs_xts *xts);
int rerofs_xts_setkey(struct rerofs_xts *xts, const u8 *key, unsigned int keylen);
int rerofs_xts_decrypt(struct rerofs_xts *xts, const u8 *iv16, void *buf, size_t len);
/*
 * The read workqueue (module init and exit), and a work item queued on it.
 */
int rerofs_read_wq_init(void);
void rerofs_read_wq_exit(void);
unsigned int rerofs_this_cpu(void);
struct work_struct;
bool rerofs_queue_read_work(struct work_struct *work, void (*fn)(struct work_struct *));
int rerofs_read_folios_async(struct file *file, loff_t pos, struct folio **folios,
			     unsigned int nr, size_t len, bool direct, long *ret,
			     struct work_struct *work, void (*fn)(struct work_struct *));

#endif
