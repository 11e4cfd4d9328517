//! The C library's heap, tuned for a daemon that holds every real server of a big file.
//!
//! glibc's malloc gives each thread that allocates an arena of its own (up to eight per
//! core) and returns to the system only what is free at the top of each. The daemon
//! allocates from the runtime's workers and the checks' thread, and a reload holds the old
//! and the new configuration for a moment: with 40,000 real servers it held 235 MB after
//! start and 368 MB after five reloads of a one-real change. Two arenas and a trim after each
//! reload keep it at the size of what it holds (docs/benchmarks.md, "Configuration at
//! scale"). These are two calls of the C library's own interface (mallopt(3),
//! malloc_trim(3)); another allocator crate was measured too and held more for `director
//! check`.

/// At most two malloc arenas (`M_ARENA_MAX`); call before the runtime starts its threads.
#[allow(unsafe_code)]
pub fn few_arenas() {
    // SAFETY: mallopt only sets a parameter of the allocator; called before other threads
    // exist, it races with no allocation.
    let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    if ok != 1 {
        tracing::debug!("mallopt(M_ARENA_MAX) refused; the heap keeps glibc's default arenas");
    }
}

/// Give the free memory of every arena back to the system (after a reload let go of the
/// configuration it replaced).
#[allow(unsafe_code)]
pub fn give_back() {
    // SAFETY: malloc_trim takes the allocator's own locks; it frees nothing in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
