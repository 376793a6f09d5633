// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for rerofs. Everything here is either a static inline or macro that
 * bindgen cannot export, or the fs_context glue (linux/fs_context.h is not part of
 * the 6.12 Rust bindings). The file system logic is in Rust.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/highmem.h>
#include <linux/pagemap.h>
#include <linux/ratelimit.h>
#include <linux/statfs.h>
#include "rerofs_helpers.h"

/* EROFS_NAME_LEN: the longest name a dirent can hold. */
#define EROFS_NAME_LEN_FOR_STATFS 255

static int rerofs_fc_fill_super(struct super_block *sb, struct fs_context *fc)
{
	return rerofs_fill_super(sb, fc->source, fc->sb_flags & SB_SILENT);
}

static int rerofs_fc_get_tree(struct fs_context *fc)
{
	if (!fc->source)
		return invalf(fc, "rerofs: no image given");
	return get_tree_nodev(fc, rerofs_fc_fill_super);
}

static int rerofs_fc_reconfigure(struct fs_context *fc)
{
	/* rerofs is read-only: a remount can never make it writable. */
	fc->sb_flags |= SB_RDONLY;
	return 0;
}

static const struct fs_context_operations rerofs_context_ops = {
	.get_tree = rerofs_fc_get_tree,
	.reconfigure = rerofs_fc_reconfigure,
};

int rerofs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &rerofs_context_ops;
	return 0;
}

loff_t rerofs_file_size(struct file *file)
{
	return i_size_read(file->f_mapping->host);
}

umode_t rerofs_file_mode(struct file *file)
{
	return file_inode(file)->i_mode;
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

bool rerofs_ratelimit(void)
{
	static DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

	return __ratelimit(&rs);
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
	buf->f_files = files;
	buf->f_ffree = 0;
	buf->f_namelen = EROFS_NAME_LEN_FOR_STATFS;
	buf->f_fsid.val[0] = fsid0;
	buf->f_fsid.val[1] = fsid1;
}
