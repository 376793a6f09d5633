// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rerofs. Everything here is either a static inline or macro that
 * bindgen cannot export, or the fs_context glue (linux/fs_context.h is not part of
 * the 6.12 Rust bindings). The file system logic is in Rust.
 */
#include <linux/fs.h>
#include <linux/fadvise.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/highmem.h>
#include <linux/pagemap.h>
#include <linux/bvec.h>
#include <linux/uio.h>
#include <linux/ratelimit.h>
#include <linux/statfs.h>
#include <linux/xattr.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/capability.h>
#include <linux/verification.h>
#include <linux/key.h>
#include <linux/cred.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/completion.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/cpumask.h>
#include <keys/asymmetric-type.h>
#include <crypto/hash.h>
#include <crypto/aead.h>
#include <crypto/skcipher.h>
#include <linux/scatterlist.h>
#include <keys/user-type.h>
#include "rerofs_helpers.h"

/* Readahead window of a mount, KiB (see rerofs_fc_fill_super). */
#define RERO_RA_KB 512

/* EROFS_NAME_LEN: the longest name a dirent can hold. */
#define EROFS_NAME_LEN_FOR_STATFS 255

/*
 * Mount options, collected as strings; the Rust side validates them in
 * fill_super. Kept in fc->fs_private.
 */
struct rerofs_mount_opts {
	char **devices;		/* device=PATH, repeatable, in slot order */
	unsigned int ndevices;
	char *blobdir;		/* blobdir=DIR: blobs are DIR/<tag> */
	char *digest;		/* digest=sha256:HEX: the expected image digest */
	int verity;		/* verity=: RERO_VERITY_* (default: on) */
	bool verity_set;	/* verity= was given */
	bool ondemand;		/* ondemand: fetch absent blob ranges through fetchd */
	char *key;		/* key=NAME: the image key is the logon key rerofs:NAME */
	int io;			/* io=: RERO_IO_* (0: not given) */
};

/*
 * The Rust callbacks, set while the file system type is registered (one file
 * system type per module). The fs_context and the xattr handlers only run while
 * it is registered, or while a mount made then is alive, which holds the module.
 */
static const struct rerofs_vfs_ops *rerofs_ops;

void rerofs_set_vfs_ops(const struct rerofs_vfs_ops *ops)
{
	rerofs_ops = ops;
}

struct kmem_cache *rerofs_info_cache_create(const char *name, unsigned int size,
					    unsigned int align)
{
	return kmem_cache_create(name, size, align,
				 SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT, NULL);
}

enum { Opt_device, Opt_blobdir, Opt_digest, Opt_verity, Opt_ondemand, Opt_key, Opt_io };

static const struct constant_table rerofs_io_modes[] = {
	{ "direct", RERO_IO_DIRECT },
	{ "buffered", RERO_IO_BUFFERED },
	{}
};

static const struct constant_table rerofs_verity_modes[] = {
	{ "off", RERO_VERITY_OFF },
	{ "on", RERO_VERITY_ON },
	{ "require", RERO_VERITY_REQUIRE },
	{}
};

static const struct fs_parameter_spec rerofs_fs_parameters[] = {
	fsparam_string("device", Opt_device),
	fsparam_string("blobdir", Opt_blobdir),
	fsparam_string("digest", Opt_digest),
	fsparam_enum("verity", Opt_verity, rerofs_verity_modes),
	fsparam_flag("ondemand", Opt_ondemand),
	fsparam_string("key", Opt_key),
	fsparam_enum("io", Opt_io, rerofs_io_modes),
	{}
};

/* The largest number of extra devices the format can name (u16). */
#define RERO_MAX_DEVICES 65535

static int rerofs_fc_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct rerofs_mount_opts *opts = fc->fs_private;
	struct fs_parse_result result;
	char **devices;
	int opt;

	opt = fs_parse(fc, rerofs_fs_parameters, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case Opt_device:
		if (opts->ndevices >= RERO_MAX_DEVICES)
			return invalf(fc, "rerofs: more than %d device= options",
				      RERO_MAX_DEVICES);
		devices = krealloc_array(opts->devices, opts->ndevices + 1,
					 sizeof(*devices), GFP_KERNEL);
		if (!devices)
			return -ENOMEM;
		opts->devices = devices;
		devices[opts->ndevices++] = param->string;
		param->string = NULL;
		return 0;
	case Opt_blobdir:
		kfree(opts->blobdir);
		opts->blobdir = param->string;
		param->string = NULL;
		return 0;
	case Opt_digest:
		kfree(opts->digest);
		opts->digest = param->string;
		param->string = NULL;
		return 0;
	case Opt_verity:
		opts->verity = result.uint_32;
		opts->verity_set = true;
		return 0;
	case Opt_ondemand:
		opts->ondemand = true;
		return 0;
	case Opt_io:
		opts->io = result.uint_32;
		return 0;
	case Opt_key:
		kfree(opts->key);
		opts->key = param->string;
		param->string = NULL;
		return 0;
	}
	return -ENOPARAM;
}

static int rerofs_fc_fill_super(struct super_block *sb, struct fs_context *fc)
{
	/*
	 * A backing_dev_info of our own, as EROFS sets up for file-backed mounts:
	 * with noop_backing_dev_info ra_pages is 0 and readahead never happens.
	 */
	int err = super_setup_bdi(sb);

	if (err)
		return err;
	/*
	 * Readahead windows of RERO_RA_KB: a window is read in up to 64-folio
	 * batches of two asynchronous parts each, so a larger window keeps more
	 * reads in flight while earlier parts are verified (the default, 128 KiB,
	 * is one batch). /sys/class/bdi/<bdi>/read_ahead_kb changes it per mount.
	 */
	sb->s_bdi->ra_pages = RERO_RA_KB / (PAGE_SIZE / 1024);
	return rerofs_ops->fill_super(sb, fc->source, fc->fs_private,
				 fc->sb_flags & SB_SILENT);
}

static int rerofs_fc_get_tree(struct fs_context *fc)
{
	if (!fc->source)
		return invalf(fc, "rerofs: no image given");
	return get_tree_nodev(fc, rerofs_fc_fill_super);
}

static void rerofs_fc_free(struct fs_context *fc)
{
	struct rerofs_mount_opts *opts = fc->fs_private;
	unsigned int i;

	if (!opts)
		return;
	for (i = 0; i < opts->ndevices; i++)
		kfree(opts->devices[i]);
	kfree(opts->devices);
	kfree(opts->blobdir);
	kfree(opts->digest);
	kfree(opts->key);
	kfree(opts);
}

unsigned int rerofs_opts_ndevices(const struct rerofs_mount_opts *opts)
{
	return opts->ndevices;
}

const char *rerofs_opts_device(const struct rerofs_mount_opts *opts, unsigned int i)
{
	return i < opts->ndevices ? opts->devices[i] : NULL;
}

const char *rerofs_opts_blobdir(const struct rerofs_mount_opts *opts)
{
	return opts->blobdir;
}

const char *rerofs_opts_digest(const struct rerofs_mount_opts *opts)
{
	return opts->digest;
}

int rerofs_opts_verity(const struct rerofs_mount_opts *opts)
{
	return opts->verity;
}

bool rerofs_opts_verity_set(const struct rerofs_mount_opts *opts)
{
	return opts->verity_set;
}

const char *rerofs_opts_key(const struct rerofs_mount_opts *opts)
{
	return opts->key;
}

/*
 * SHA-256 through the crypto API ("sha256": the best driver the CPU offers,
 * sha256-ni or sha256-avx2). One transform for the module; crypto_shash_tfm_digest
 * keeps its state on the stack, so concurrent callers are fine.
 */
static struct crypto_shash *rerofs_sha256_tfm;

int rerofs_crypto_init(void)
{
	struct crypto_shash *tfm = crypto_alloc_shash("sha256", 0, 0);

	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	rerofs_sha256_tfm = tfm;
	pr_info("rerofs: sha256 by %s\n", crypto_shash_driver_name(tfm));
	return 0;
}

void rerofs_crypto_exit(void)
{
	if (rerofs_sha256_tfm)
		crypto_free_shash(rerofs_sha256_tfm);
	rerofs_sha256_tfm = NULL;
}

int rerofs_sha256(const void *data, size_t len, u8 *out)
{
	if (!rerofs_sha256_tfm)
		return -ENOPKG;
	return crypto_shash_tfm_digest(rerofs_sha256_tfm, data, len, out);
}

/*
 * Module parameters (/sys/module/rerofs/parameters/). The C side declares them:
 * the 6.12 Rust module! macro has no parameters.
 */

/*
 * require_verity: every mount behaves as verity=require (an image without trees,
 * or whose trust cannot be established, is refused, and verity=off is refused).
 * Like fs-verity's require_signatures; root may change it at run time.
 */
static bool rerofs_require_verity_param;
module_param_named(require_verity, rerofs_require_verity_param, bool, 0644);
MODULE_PARM_DESC(require_verity,
		 "Refuse every image that is not verified with established trust (as verity=require on every mount)");

bool rerofs_require_verity(void)
{
	return READ_ONCE(rerofs_require_verity_param);
}

/*
 * keyring_restrict: what certificates root may add to the .rerofs keyring, as a
 * restriction of the asymmetric key type (keyctl restrict_keyring):
 * "builtin_and_secondary_trusted" (the default: vouched for by a key of the
 * builtin or secondary trusted keyring), "builtin_trusted" (by a builtin key),
 * or "none" (any certificate, as fs-verity's .fs-verity keyring; root may still
 * restrict it later with keyctl restrict_keyring). Read at module load.
 */
static char *rerofs_keyring_restriction = "builtin_and_secondary_trusted";
module_param_named(keyring_restrict, rerofs_keyring_restriction, charp, 0444);
MODULE_PARM_DESC(keyring_restrict,
		 "What may be added to the .rerofs keyring: builtin_and_secondary_trusted (default), builtin_trusted, or none");

/*
 * The .rerofs keyring: the certificates whose keys may sign rerofs images. Its
 * own keyring, not the system trusted ones, so that a key trusted for modules,
 * kexec or fs-verity files does not sign rerofs images by being there. Root adds
 * a certificate with
 *   keyctl padd asymmetric "" %:.rerofs < cert.der
 */
static struct key *rerofs_keyring;

int rerofs_keyring_init(void)
{
	const char *restriction = rerofs_keyring_restriction ?
		rerofs_keyring_restriction : "builtin_and_secondary_trusted";
	struct key *keyring;
	int err;

	keyring = keyring_alloc(".rerofs", KUIDT_INIT(0), KGIDT_INIT(0),
				current_cred(), KEY_POS_SEARCH |
				KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE |
				KEY_USR_SEARCH | KEY_USR_SETATTR,
				KEY_ALLOC_NOT_IN_QUOTA, NULL, NULL);
	if (IS_ERR(keyring)) {
		pr_err("rerofs: cannot allocate the .rerofs keyring: %ld\n",
		       PTR_ERR(keyring));
		return PTR_ERR(keyring);
	}
	if (strcmp(restriction, "none") != 0) {
		err = keyring_restrict(make_key_ref(keyring, true), "asymmetric",
				       restriction);
		if (err) {
			pr_err("rerofs: keyring_restrict=%s: cannot restrict the .rerofs keyring: %d\n",
			       restriction, err);
			key_put(keyring);
			return err;
		}
		/* Nothing added before the restriction (root racing insmod) stays. */
		err = keyring_clear(keyring);
		if (err) {
			key_put(keyring);
			return err;
		}
	}
	rerofs_keyring = keyring;
	pr_info("rerofs: .rerofs keyring is key %d, keyring_restrict=%s\n",
		key_serial(keyring), restriction);
	return 0;
}

void rerofs_keyring_exit(void)
{
	if (rerofs_keyring)
		key_put(rerofs_keyring);
	rerofs_keyring = NULL;
}

/*
 * Checks a PKCS#7 detached signature over msg against the certificates of the
 * .rerofs keyring only (not the system trusted keyrings). 0 when it verifies;
 * -ENOKEY when the signer is not in .rerofs, -EKEYREJECTED when the signature is
 * wrong, -EBADMSG when it is malformed.
 */
int rerofs_verify_pkcs7(const void *msg, size_t msg_len, const void *sig, size_t sig_len)
{
	if (!rerofs_keyring)
		return -ENOKEY;
	/*
	 * An empty keyring trusts nobody: skip the PKCS#7 parser (attack surface
	 * reachable by whoever may mount), as fs-verity does for .fs-verity.
	 */
	if (READ_ONCE(rerofs_keyring->keys.nr_leaves_on_tree) == 0)
		return -ENOKEY;
	return verify_pkcs7_signature(msg, msg_len, sig, sig_len, rerofs_keyring,
				      VERIFYING_UNSPECIFIED_SIGNATURE, NULL, NULL);
}

void rerofs_seq_show_option(struct seq_file *m, const char *name, const char *value)
{
	seq_show_option(m, name, value);
}

static int rerofs_fc_reconfigure(struct fs_context *fc)
{
	/* A remount may repeat rerofs's options but not change them. */
	int err = rerofs_ops->reconfigure(fc->root->d_sb, fc->fs_private);

	if (err)
		return err;
	/* rerofs is read-only: a remount can never make it writable. */
	fc->sb_flags |= SB_RDONLY;
	return 0;
}

static const struct fs_context_operations rerofs_context_ops = {
	.parse_param = rerofs_fc_parse_param,
	.get_tree = rerofs_fc_get_tree,
	.reconfigure = rerofs_fc_reconfigure,
	.free = rerofs_fc_free,
};

int rerofs_init_fs_context(struct fs_context *fc)
{
	fc->fs_private = kzalloc(sizeof(struct rerofs_mount_opts), GFP_KERNEL);
	if (!fc->fs_private)
		return -ENOMEM;
	fc->ops = &rerofs_context_ops;
	return 0;
}

loff_t rerofs_file_size(struct file *file)
{
	return i_size_read(file->f_mapping->host);
}

/*
 * Starts reading [pos, pos + len) of the file into its page cache without
 * waiting (POSIX_FADV_WILLNEED): a later read of that range finds it there or
 * in flight. Only a hint: errors are the caller's to ignore.
 */
int rerofs_file_willneed(struct file *file, loff_t pos, loff_t len)
{
	return vfs_fadvise(file, pos, len, POSIX_FADV_WILLNEED);
}

umode_t rerofs_file_mode(struct file *file)
{
	return file_inode(file)->i_mode;
}

int rerofs_file_stack_depth(struct file *file)
{
	return file_inode(file)->i_sb->s_stack_depth;
}

const unsigned char *rerofs_dentry_name(const struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

loff_t rerofs_folio_pos(struct folio *folio)
{
	return folio_pos(folio);
}

size_t rerofs_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

void *rerofs_kmap_local_folio(struct folio *folio, size_t offset)
{
	return kmap_local_folio(folio, offset);
}

void rerofs_kunmap_local(const void *addr)
{
	kunmap_local(addr);
}

void rerofs_folio_end_read(struct folio *folio, bool success)
{
	folio_end_read(folio, success);
}

/*
 * The folio holding page index of the inode's own page cache, uptodate: read
 * through the mapping's read_folio when it is not cached (erofs_bread on a
 * directory's mapping). A folio with a reference, or an ERR_PTR (-EIO when
 * read_folio failed).
 */
struct folio *rerofs_read_inode_folio(struct inode *inode, pgoff_t index)
{
	return read_mapping_folio(inode->i_mapping, index, NULL);
}

void rerofs_folio_put(struct folio *folio)
{
	folio_put(folio);
}

/* The rate limit of one mount's data-path messages (one per mount, not global). */
struct ratelimit_state *rerofs_ratelimit_new(void)
{
	struct ratelimit_state *rs = kzalloc(sizeof(*rs), GFP_KERNEL);

	if (!rs)
		return ERR_PTR(-ENOMEM);
	ratelimit_state_init(rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);
	return rs;
}

void rerofs_ratelimit_free(struct ratelimit_state *rs)
{
	kfree(rs);
}

bool rerofs_ratelimit(struct ratelimit_state *rs)
{
	return __ratelimit(rs);
}

void rerofs_sb_set_readonly(struct super_block *sb)
{
	sb->s_flags |= SB_RDONLY | SB_NOATIME;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
}

struct inode *rerofs_folio_inode(struct folio *folio)
{
	return folio->mapping->host;
}

void rerofs_fill_statfs(struct kstatfs *buf, u32 magic, u64 blocks, u64 files,
			u32 fsid0, u32 fsid1)
{
	buf->f_type = magic;
	buf->f_bsize = PAGE_SIZE;
	buf->f_blocks = blocks;
	buf->f_bfree = 0;
	buf->f_bavail = 0;
	/* As Linux 6.12's erofs_statfs: no inode limit, inos in use. */
	buf->f_files = ULLONG_MAX;
	buf->f_ffree = ULLONG_MAX - files;
	buf->f_namelen = EROFS_NAME_LEN_FOR_STATFS;
	buf->f_fsid.val[0] = fsid0;
	buf->f_fsid.val[1] = fsid1;
}

struct folio *rerofs_readahead_folio(struct readahead_control *rac)
{
	return readahead_folio(rac);
}

/*
 * Reads `len` bytes at `pos` of `file` straight into `nr` whole folios (the
 * first at its offset 0, each filled from its start), with one bvec iterator
 * over all of them: one synchronous ->read_iter call per contiguous run (a
 * second one only after a short read). Returns the bytes read (short at the end
 * of the file) or a negative errno.
 */
ssize_t rerofs_read_folios(struct file *file, loff_t pos, struct folio **folios,
			   unsigned int nr, size_t len, bool direct)
{
	struct bio_vec *bv;
	struct iov_iter iter;
	size_t left = len;
	ssize_t total = 0;
	unsigned int i, n = 0;
	bool dio = false;

	if (nr > RERO_MAX_BATCH)
		return -EINVAL;
	/* 64 bio_vecs are 1 KiB: too much for the stack (with KASAN). */
	bv = kmalloc_array(nr ? nr : 1, sizeof(*bv), GFP_NOFS);
	if (!bv)
		return -ENOMEM;
	for (i = 0; i < nr && left; i++) {
		size_t seg = min(left, folio_size(folios[i]));

		bvec_set_folio(&bv[n++], folios[i], seg, 0);
		left -= seg;
	}
	if (left) {
		kfree(bv);
		return -EINVAL;
	}
	/*
	 * Direct I/O (the backing file's page cache is bypassed, so the data is
	 * cached once, in ours) when asked for, the file supports it and the run is
	 * in whole pages; the folios are page-aligned. A file system that refuses
	 * this particular request (EINVAL: alignment to its device) gets it again
	 * buffered.
	 */
	if (direct && (file->f_mode & FMODE_CAN_ODIRECT) && PAGE_ALIGNED(pos) && PAGE_ALIGNED(len))
		dio = true;
	iov_iter_bvec(&iter, ITER_DEST, bv, n, len);
	while (iov_iter_count(&iter)) {
		ssize_t r;

		if (dio) {
			struct kiocb kiocb;

			init_sync_kiocb(&kiocb, file);
			kiocb.ki_pos = pos;
			kiocb.ki_flags |= IOCB_DIRECT;
			r = vfs_iocb_iter_read(file, &kiocb, &iter);
			if (r == -EINVAL || r == -EOPNOTSUPP) {
				dio = false;
				continue;
			}
			if (r > 0)
				pos = kiocb.ki_pos;
		} else {
			r = vfs_iter_read(file, &iter, &pos, 0);
		}
		if (r < 0) {
			total = r;
			break;
		}
		if (r == 0)
			break;
		total += r;
	}
	kfree(bv);
	return total;
}

struct inode *rerofs_readahead_inode(struct readahead_control *rac)
{
	return rac->mapping->host;
}

/*
 * Extended attributes. The handler tables are C because linux/xattr.h is not in
 * the 6.12 bindings; each handler passes its EROFS name index (handler->flags) to
 * the Rust lookup.
 */
static int rerofs_xattr_handler_get(const struct xattr_handler *handler,
				    struct dentry *unused, struct inode *inode,
				    const char *name, void *buffer, size_t size)
{
	return rerofs_ops->getxattr(inode, handler->flags, name, buffer, size);
}

static bool rerofs_xattr_trusted_list(struct dentry *dentry)
{
	return capable(CAP_SYS_ADMIN);
}

static const struct xattr_handler rerofs_xattr_user_handler = {
	.prefix = XATTR_USER_PREFIX,
	.flags = 1,	/* EROFS_XATTR_INDEX_USER */
	.get = rerofs_xattr_handler_get,
};

static const struct xattr_handler rerofs_xattr_trusted_handler = {
	.prefix = XATTR_TRUSTED_PREFIX,
	.flags = 4,	/* EROFS_XATTR_INDEX_TRUSTED */
	.list = rerofs_xattr_trusted_list,
	.get = rerofs_xattr_handler_get,
};

static const struct xattr_handler rerofs_xattr_security_handler = {
	.prefix = XATTR_SECURITY_PREFIX,
	.flags = 6,	/* EROFS_XATTR_INDEX_SECURITY */
	.get = rerofs_xattr_handler_get,
};

static const struct xattr_handler * const rerofs_xattr_handlers[] = {
	&rerofs_xattr_user_handler,
	&rerofs_xattr_trusted_handler,
	&rerofs_xattr_security_handler,
	NULL,
};

void rerofs_sb_set_xattr(struct super_block *sb)
{
	sb->s_xattr = rerofs_xattr_handlers;
	sb->s_flags |= SB_POSIXACL;
}

bool rerofs_may_list_trusted(void)
{
	return capable(CAP_SYS_ADMIN);
}

/* POSIX ACLs are stored as EROFS xattrs with name index 2 (access) or 3 (default). */
struct posix_acl *rerofs_get_inode_acl(struct inode *inode, int type, bool rcu)
{
	struct posix_acl *acl;
	char *value = NULL;
	int index, len;

	if (rcu)
		return ERR_PTR(-ECHILD);
	if (type == ACL_TYPE_ACCESS)
		index = 2;
	else if (type == ACL_TYPE_DEFAULT)
		index = 3;
	else
		return ERR_PTR(-EINVAL);
	len = rerofs_ops->getxattr(inode, index, "", NULL, 0);
	if (len > 0) {
		value = kmalloc(len, GFP_KERNEL);
		if (!value)
			return ERR_PTR(-ENOMEM);
		len = rerofs_ops->getxattr(inode, index, "", value, len);
	}
	if (len == -ENODATA || len == 0)
		acl = NULL;
	else if (len < 0)
		acl = ERR_PTR(len);
	else
		acl = posix_acl_from_xattr(&init_user_ns, value, len);
	kfree(value);
	return acl;
}

/*
 * The verified-block cache of a mount: the page cache of a private anonymous
 * inode (as EROFS keeps its managed cache). Only blocks that passed verification
 * are added, so nothing unverified is ever served from it; its folios are clean,
 * unmapped and on the LRU, so reclaim drops them under memory pressure (they are
 * read and verified again when next needed), and nothing is allocated until a
 * block is cached: no bookkeeping proportional to a blob's size. Nobody but
 * rerofs can reach this mapping, unlike the backing file's page cache.
 */
struct inode *rerofs_cache_new(struct super_block *sb)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return ERR_PTR(-ENOMEM);
	set_nlink(inode, 1);
	inode->i_size = OFFSET_MAX;
	mapping_set_gfp_mask(inode->i_mapping, GFP_KERNEL);
	return inode;
}

void rerofs_cache_put(struct inode *inode)
{
	iput(inode);
}

/* Copies len bytes at off of cached block index to buf: 0, or -ENOENT. */
int rerofs_cache_read(struct inode *inode, pgoff_t index, size_t off, void *buf,
		      size_t len)
{
	struct folio *folio;

	if (off > PAGE_SIZE || len > PAGE_SIZE - off)
		return -EINVAL;
	folio = filemap_get_folio(inode->i_mapping, index);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (!folio_test_uptodate(folio)) {
		folio_put(folio);
		return -ENOENT;
	}
	memcpy_from_folio(buf, folio, off, len);
	folio_put(folio);
	return 0;
}

/* Adds a copy of the verified block data (PAGE_SIZE bytes) as block index. */
int rerofs_cache_insert(struct inode *inode, pgoff_t index, const void *data)
{
	struct folio *folio = filemap_alloc_folio(GFP_KERNEL | __GFP_NOWARN, 0);
	int err;

	if (!folio)
		return -ENOMEM;
	memcpy_to_folio(folio, 0, data, PAGE_SIZE);
	__folio_mark_uptodate(folio);
	err = filemap_add_folio(inode->i_mapping, folio, index, GFP_KERNEL);
	if (!err)
		folio_unlock(folio);
	folio_put(folio);
	/* Someone else cached the same block first: as good. */
	return err == -EEXIST ? 0 : err;
}

int rerofs_opts_io(const struct rerofs_mount_opts *opts)
{
	return opts->io;
}

bool rerofs_opts_ondemand(const struct rerofs_mount_opts *opts)
{
	return opts->ondemand;
}

/*
 * The on-demand channel: the misc device /dev/rerofs-ondemand that the fetch
 * daemon opens (Documentation/filesystems/rerofs.rst, "On-demand fetching").
 * Only the character-device mechanics are here: the daemon's wait for a request
 * (read, poll) and the copies to and from user memory. The requests themselves
 * (queue, deduplication, completions, the readers' waits) are rust/ondemand.rs,
 * reached through the table of callbacks set at registration.
 */
static unsigned int rerofs_ondemand_timeout_param = 30;
module_param_named(ondemand_timeout, rerofs_ondemand_timeout_param, uint, 0644);
MODULE_PARM_DESC(ondemand_timeout,
		 "Seconds a read waits for the fetch daemon (ondemand mounts) before failing with EIO (1 to 3600)");

unsigned int rerofs_ondemand_timeout_ms(void)
{
	return clamp_t(unsigned int, READ_ONCE(rerofs_ondemand_timeout_param), 1, 3600) * 1000;
}

static const struct rerofs_ondemand_ops *rerofs_od_ops;
static const void *rerofs_od_ctx;
static DECLARE_WAIT_QUEUE_HEAD(rerofs_od_wq);

/* Wakes the daemon's read and poll: a request is queued. */
void rerofs_ondemand_wake(void)
{
	wake_up_interruptible(&rerofs_od_wq);
}

static int rerofs_od_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return rerofs_od_ops->open(rerofs_od_ctx);
}

static int rerofs_od_release(struct inode *inode, struct file *file)
{
	rerofs_od_ops->release(rerofs_od_ctx);
	return 0;
}

static ssize_t rerofs_od_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	u8 rec[RERO_ONDEMAND_REQUEST_SIZE];
	int n;

	if (len < sizeof(rec))
		return -EINVAL;
	for (;;) {
		n = rerofs_od_ops->take(rerofs_od_ctx, rec, sizeof(rec));
		if (n < 0)
			return n;
		if (n > 0)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(rerofs_od_wq,
					     rerofs_od_ops->pending(rerofs_od_ctx)))
			return -ERESTARTSYS;
	}
	if (copy_to_user(buf, rec, n))
		return -EFAULT;
	return n;
}

static ssize_t rerofs_od_write(struct file *file, const char __user *buf, size_t len,
			       loff_t *pos)
{
	u8 rec[RERO_ONDEMAND_COMPLETION_SIZE];
	int err;

	if (len != sizeof(rec))
		return -EINVAL;
	if (copy_from_user(rec, buf, sizeof(rec)))
		return -EFAULT;
	err = rerofs_od_ops->complete(rerofs_od_ctx, rec, sizeof(rec));
	return err ? err : len;
}

static __poll_t rerofs_od_poll(struct file *file, struct poll_table_struct *pt)
{
	poll_wait(file, &rerofs_od_wq, pt);
	return EPOLLOUT | EPOLLWRNORM |
	       (rerofs_od_ops->pending(rerofs_od_ctx) ? EPOLLIN | EPOLLRDNORM : 0);
}

static const struct file_operations rerofs_od_fops = {
	.owner = THIS_MODULE,
	.open = rerofs_od_open,
	.release = rerofs_od_release,
	.read = rerofs_od_read,
	.write = rerofs_od_write,
	.poll = rerofs_od_poll,
	.llseek = noop_llseek,
};

static struct miscdevice rerofs_od_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rerofs-ondemand",
	.fops = &rerofs_od_fops,
	.mode = 0600,
};

/*
 * Registers the device; ops and ctx must stay valid until
 * rerofs_ondemand_unregister (an open device holds the module: .owner).
 */
int rerofs_ondemand_register(const struct rerofs_ondemand_ops *ops, const void *ctx)
{
	int err;

	rerofs_od_ops = ops;
	rerofs_od_ctx = ctx;
	err = misc_register(&rerofs_od_misc);
	if (err)
		rerofs_od_ctx = NULL;
	return err;
}

void rerofs_ondemand_unregister(void)
{
	misc_deregister(&rerofs_od_misc);
	rerofs_od_ctx = NULL;
}

/* The context given at registration (the Rust channel). */
const void *rerofs_ondemand_ctx(void)
{
	return rerofs_od_ctx;
}

/* A completion (the readers of one request wait on it); NULL: no memory. */
struct completion *rerofs_completion_new(void)
{
	struct completion *c = kmalloc(sizeof(*c), GFP_KERNEL);

	if (c)
		init_completion(c);
	return c;
}

void rerofs_completion_free(struct completion *c)
{
	kfree(c);
}

void rerofs_completion_done(struct completion *c)
{
	complete_all(c);
}

/*
 * Waits killably at most ms milliseconds: 1 completed, 0 timed out, -ERESTARTSYS
 * killed.
 */
int rerofs_completion_wait(struct completion *c, unsigned int ms)
{
	long r = wait_for_completion_killable_timeout(c, msecs_to_jiffies(ms));

	if (r < 0)
		return r;
	return r > 0 ? 1 : 0;
}

/*
 * Key material (encrypted images). rerofs_wipe is memzero_explicit (a static
 * inline): the compiler may not drop it as a dead store.
 */
void rerofs_wipe(void *p, size_t len)
{
	memzero_explicit(p, len);
}

/*
 * Copies the payload of the logon key @desc found in the calling process's
 * keyrings (thread, process, session or user-session keyring, and the keyrings
 * linked from them, such as @u) into @out, which must be exactly @len bytes
 * (*found: the payload's size). request_key() with no callout info: a search
 * only, no /sbin/request-key upcall, so a mount tried before the key is added
 * leaves no negative key behind. (request_key_rcu() would not do: it does not
 * descend into linked keyrings, so it never finds a key in @u.) -ENOKEY when
 * there is no such logon key (a "user" key of the same name is not one),
 * -EKEYREVOKED/-EKEYEXPIRED as the keyring reports, -EMSGSIZE for a wrong size.
 */
int rerofs_logon_key(const char *desc, u8 *out, size_t len, size_t *found)
{
	const struct user_key_payload *ukp;
	struct key *key;
	int err = 0;

	*found = 0;
	key = request_key(&key_type_logon, desc, NULL);
	if (IS_ERR(key))
		return PTR_ERR(key);
	down_read(&key->sem);
	ukp = user_key_payload_locked(key);
	if (!ukp) {
		/* Revoked after it was found. */
		err = -EKEYREVOKED;
	} else {
		*found = ukp->datalen;
		if (ukp->datalen != len)
			err = -EMSGSIZE;
		else
			memcpy(out, ukp->data, len);
	}
	up_read(&key->sem);
	key_put(key);
	return err;
}

/*
 * AES-256-GCM ("gcm(aes)", 16-byte tags, 12-byte nonces) for unwrapping chunk
 * keys and the key check. The transform holds the expanded image key; the
 * crypto API frees it with kfree_sensitive.
 */
int rerofs_gcm_new(const u8 *key, unsigned int keylen, struct rerofs_gcm **out)
{
	struct crypto_aead *tfm = crypto_alloc_aead("gcm(aes)", 0, 0);
	int err;

	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	err = crypto_aead_setkey(tfm, key, keylen);
	if (!err)
		err = crypto_aead_setauthsize(tfm, 16);
	if (err) {
		crypto_free_aead(tfm);
		return err;
	}
	*out = (struct rerofs_gcm *)tfm;
	return 0;
}

void rerofs_gcm_free(struct rerofs_gcm *gcm)
{
	crypto_free_aead((struct crypto_aead *)gcm);
}

/*
 * Decrypts and authenticates @ctlen bytes at @ct with @tag16 over @ad, into
 * @out. The request works on one linear kmalloc'd copy (scatterlists cannot
 * point into the stack), wiped before it is freed. -EBADMSG: not authentic.
 */
int rerofs_gcm_decrypt(struct rerofs_gcm *gcm, const u8 *nonce12, const u8 *ad,
		       size_t adlen, const u8 *ct, size_t ctlen, const u8 *tag16, u8 *out)
{
	struct crypto_aead *tfm = (struct crypto_aead *)gcm;
	size_t total = adlen + ctlen + 16;
	struct aead_request *req;
	struct scatterlist sg;
	DECLARE_CRYPTO_WAIT(wait);
	u8 iv[12];
	u8 *buf;
	int err;

	if (crypto_aead_ivsize(tfm) != sizeof(iv) || adlen > 4096 || ctlen > 4096)
		return -EINVAL;
	buf = kmalloc(total, GFP_NOFS);
	if (!buf)
		return -ENOMEM;
	req = aead_request_alloc(tfm, GFP_NOFS);
	if (!req) {
		kfree(buf);
		return -ENOMEM;
	}
	memcpy(iv, nonce12, sizeof(iv));
	memcpy(buf, ad, adlen);
	memcpy(buf + adlen, ct, ctlen);
	memcpy(buf + adlen + ctlen, tag16, 16);
	sg_init_one(&sg, buf, total);
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_SLEEP | CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &wait);
	aead_request_set_ad(req, adlen);
	aead_request_set_crypt(req, &sg, &sg, ctlen + 16, iv);
	err = crypto_wait_req(crypto_aead_decrypt(req), &wait);
	if (!err)
		memcpy(out, buf + adlen, ctlen);
	aead_request_free(req);
	kfree_sensitive(buf);
	return err;
}

/*
 * AES-256-XTS ("xts(aes)") for file data: a transform keyed with the chunk key
 * of the block being decrypted, and one request allocated with it and reused
 * (no allocation per block); the caller serializes setkey and decryption.
 */
struct rerofs_xts {
	struct crypto_skcipher *tfm;
	struct skcipher_request *req;
};

int rerofs_xts_new(struct rerofs_xts **out)
{
	struct rerofs_xts *xts = kzalloc(sizeof(*xts), GFP_KERNEL);
	int err;

	if (!xts)
		return -ENOMEM;
	xts->tfm = crypto_alloc_skcipher("xts(aes)", 0, 0);
	if (IS_ERR(xts->tfm)) {
		err = PTR_ERR(xts->tfm);
		kfree(xts);
		return err;
	}
	xts->req = skcipher_request_alloc(xts->tfm, GFP_KERNEL);
	if (!xts->req) {
		crypto_free_skcipher(xts->tfm);
		kfree(xts);
		return -ENOMEM;
	}
	pr_info_once("rerofs: xts(aes) by %s\n", crypto_skcipher_driver_name(xts->tfm));
	*out = xts;
	return 0;
}

void rerofs_xts_free(struct rerofs_xts *xts)
{
	skcipher_request_free(xts->req);
	crypto_free_skcipher(xts->tfm);
	kfree(xts);
}

int rerofs_xts_setkey(struct rerofs_xts *xts, const u8 *key, unsigned int keylen)
{
	return crypto_skcipher_setkey(xts->tfm, key, keylen);
}

/*
 * Decrypts @len bytes at @buf in place with the 16-byte tweak @iv16. @buf must
 * be in the kernel's linear map (a kmap_local'd folio page on a !HIGHMEM
 * kernel, or kmalloc'd), as a scatterlist needs its page.
 */
int rerofs_xts_decrypt(struct rerofs_xts *xts, const u8 *iv16, void *buf, size_t len)
{
	struct skcipher_request *req = xts->req;
	struct scatterlist sg;
	DECLARE_CRYPTO_WAIT(wait);
	u8 iv[16];

	if (!virt_addr_valid(buf) || offset_in_page(buf) + len > PAGE_SIZE)
		return -EINVAL;
	memcpy(iv, iv16, sizeof(iv));
	sg_init_one(&sg, buf, len);
	skcipher_request_set_callback(req, CRYPTO_TFM_REQ_MAY_SLEEP | CRYPTO_TFM_REQ_MAY_BACKLOG,
				      crypto_req_done, &wait);
	skcipher_request_set_crypt(req, &sg, &sg, len, iv);
	return crypto_wait_req(crypto_skcipher_decrypt(req), &wait);
}

/*
 * The read workqueue: readahead hands it the runs it read, to be verified,
 * decrypted and ended there (rerofs_queue_read_work). WQ_MEM_RECLAIM: reclaim
 * may wait for those locked page-cache folios, so it needs a rescuer to make
 * progress when no worker can be created; WQ_HIGHPRI as fs-verity's read
 * queue; unbound: any CPU.
 */
static struct workqueue_struct *rerofs_read_wq;

int rerofs_read_wq_init(void)
{
	rerofs_read_wq = alloc_workqueue("rerofs_read", WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	return rerofs_read_wq ? 0 : -ENOMEM;
}

void rerofs_read_wq_exit(void)
{
	if (rerofs_read_wq)
		destroy_workqueue(rerofs_read_wq);
	rerofs_read_wq = NULL;
}

unsigned int rerofs_this_cpu(void)
{
	return raw_smp_processor_id();
}

/*
 * Initializes @work to run @fn and queues it on the read workqueue: the
 * finishing (verification, decryption, end of read) of a run of folios that
 * readahead read. False (nothing queued) without the workqueue.
 */
bool rerofs_queue_read_work(struct work_struct *work, void (*fn)(struct work_struct *))
{
	if (!rerofs_read_wq)
		return false;
	INIT_WORK(work, fn);
	return queue_work(rerofs_read_wq, work);
}

/*
 * An asynchronous read into folios (rerofs_read_folios_async): the kiocb, the
 * iterator and its bvec array live until the read completes (a bio of a direct
 * read points at the array).
 */
struct rerofs_aio {
	struct kiocb iocb;
	struct iov_iter iter;
	long *ret;
	struct work_struct *work;
	struct bio_vec bv[];
};

/* Ends an asynchronous read: any context (a direct read's bio completion). */
static void rerofs_aio_done(struct rerofs_aio *aio, long ret)
{
	struct work_struct *work = aio->work;

	*aio->ret = ret;
	kfree(aio);
	queue_work(rerofs_read_wq, work);
}

static void rerofs_aio_complete(struct kiocb *iocb, long ret)
{
	rerofs_aio_done(container_of(iocb, struct rerofs_aio, iocb), ret);
}

/*
 * Reads @len bytes at @pos of @file into @folios (as rerofs_read_folios) and,
 * once the read is done, stores its result (bytes read or a negative errno) in
 * *@ret and queues @work (initialized here to run @fn) on the read workqueue.
 * A direct read (@direct, the file supporting it, whole pages) is submitted and
 * completes later, so the caller goes on while it is in flight; otherwise the
 * read is done here, synchronously, before @work is queued. Returns 0 when
 * @work was (or will be) queued, or a negative errno when nothing was started
 * (no workqueue, no memory, a bad request): then the caller still owns @work's
 * container and the folios.
 */
int rerofs_read_folios_async(struct file *file, loff_t pos, struct folio **folios,
			     unsigned int nr, size_t len, bool direct, long *ret,
			     struct work_struct *work, void (*fn)(struct work_struct *))
{
	struct rerofs_aio *aio;
	size_t left = len;
	unsigned int i, n = 0;
	ssize_t r;

	if (!rerofs_read_wq || nr > RERO_MAX_BATCH || !nr)
		return -EINVAL;
	aio = kmalloc(struct_size(aio, bv, nr), GFP_NOFS);
	if (!aio)
		return -ENOMEM;
	for (i = 0; i < nr && left; i++) {
		size_t seg = min(left, folio_size(folios[i]));

		bvec_set_folio(&aio->bv[n++], folios[i], seg, 0);
		left -= seg;
	}
	if (left) {
		kfree(aio);
		return -EINVAL;
	}
	INIT_WORK(work, fn);
	aio->ret = ret;
	aio->work = work;
	if (direct && (file->f_mode & FMODE_CAN_ODIRECT) && PAGE_ALIGNED(pos) && PAGE_ALIGNED(len)) {
		iov_iter_bvec(&aio->iter, ITER_DEST, aio->bv, n, len);
		init_sync_kiocb(&aio->iocb, file);
		aio->iocb.ki_pos = pos;
		aio->iocb.ki_flags |= IOCB_DIRECT;
		aio->iocb.ki_complete = rerofs_aio_complete;
		r = vfs_iocb_iter_read(file, &aio->iocb, &aio->iter);
		if (r == -EIOCBQUEUED)
			return 0;
		if (r != -EINVAL && r != -EOPNOTSUPP) {
			/* Done (or failed) without going asynchronous. */
			rerofs_aio_done(aio, r);
			return 0;
		}
		/* Refused as direct I/O: read it buffered below. */
	}
	iov_iter_bvec(&aio->iter, ITER_DEST, aio->bv, n, len);
	r = 0;
	while (iov_iter_count(&aio->iter)) {
		ssize_t got = vfs_iter_read(file, &aio->iter, &pos, 0);

		if (got < 0) {
			r = got;
			break;
		}
		if (got == 0)
			break;
		r += got;
	}
	rerofs_aio_done(aio, r);
	return 0;
}
