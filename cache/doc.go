// Package cache holds the metadata caches the fs layer keeps in front of the
// SMB session: attributes (with negative lookups) and directory listings.
//
// # Keys
//
// Every cache is keyed by a share-relative path with '/' separators, as the fs
// layer names nodes: "" is the root of the share, "a/b" a file two levels
// down. Leading and trailing slashes are ignored, so "/a/" and "a" are the same
// key. Subtree operations (InvalidatePrefix) respect component boundaries:
// invalidating "a" touches "a" and "a/x" but never "ab".
//
// # Freshness
//
// An entry is served only while it is younger than the cache's TTL (mount
// option actimeo, default 1 s). A TTL of 0 disables the cache entirely: Put
// stores nothing and Get always misses (cache=none, actimeo=0). The clock is
// Config.Now so tests never sleep.
//
// # Bounded memory
//
// Each cache holds at most Config.MaxEntries units and evicts the least
// recently used entries beyond that. An attribute or negative entry weighs 1;
// a directory listing weighs the number of entries it holds (at least 1), so a
// 20,000-entry listing counts as 20,000. A listing heavier than the whole bound
// is not cached at all.
//
// # The generation race
//
// A network filesystem cache has a classic race: a lookup sends a request to
// the server, meanwhile a local create/rename/setattr changes the path and
// invalidates the cache, then the lookup's (now stale) reply arrives and is
// inserted, and the stale value is served for a whole TTL. To prevent it, a
// caller takes a token with Generation before it asks the server and passes it
// to Put. Every invalidation bumps the cache's generation and is remembered in
// a small ring; Put drops the value if an invalidation since the token covered
// its path (or if the token is so old that the ring no longer tells). The
// results of the caller's own modifying operations are stored with Update,
// which counts as an invalidation and so also drops older fetches in flight.
// Tokens are per cache: a token from one cache means nothing to another.
//
// # Negative entries
//
// The negative-lookup cache ("name does not exist") lives in AttrCache, in the
// same map as positive attributes, rather than in a separate type. This
// departs from the obvious split on purpose: a lookup is one map access under
// one lock, a positive Put atomically replaces a negative entry, and the single
// Invalidate the fs layer issues on create or rename-into clears both kinds.
//
// # Concurrency
//
// Every cache has exactly one mutex guarding all of its state; all methods are
// safe for concurrent use and none calls out (no callbacks run under the lock
// except DirCache's name function, which must be a pure field accessor, and
// the function given to DirCache.Modify, which must only change the entry). Attribute
// values are stored and returned as-is; a directory listing handed to Put
// belongs to the cache, which edits it in place (Set, Remove, Modify) and
// returns copies (Get).
//
// Lookups are a map access plus an LRU move; subtree invalidation walks a path
// trie, so its cost is the size of the subtree, not of the cache.
package cache
