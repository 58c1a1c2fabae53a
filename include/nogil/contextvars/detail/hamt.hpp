#pragma once
// The persistent map behind a contextvars::Context: a hash array mapped trie (HAMT), CPython's
// choice (Python/hamt.c). A map is never changed after it is built: set() and erase() return a
// new map that shares every untouched node with the old one, so copying a Context is one
// reference count, and a ContextVar::get() is a walk of at most a few 32-way nodes.
//
// Keys are the ContextVars' ids (64-bit, never reused, never 0). The trie is indexed by a
// bijective mix of the id, so two keys never share a full hash: there are no collision nodes,
// and the depth is at most 13 (5 bits a level).
//
// Values are type-erased, immutable, reference-counted boxes (Value): a ContextVar<T> stores a
// TypedValue<T>. Nodes and values are shared across threads (a context copied on one thread and
// run on another), so their reference counts are atomic; nothing else in them ever changes.
//
// Thread safety: a Map is a value (one root pointer). Distinct Map objects may be used on any
// threads at once; one Map object is not written while another thread reads it (the Context
// that holds it guarantees that, see context.hpp).

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace nogil::contextvars::detail {

/// A value held by a context: immutable once built, shared by every map that holds it.
struct Value {
    std::atomic<std::uint32_t> refs{1};
    void (*destroy)(Value*) noexcept;
    bool (*equal)(const Value&, const Value&) noexcept;  // same type guaranteed by the key

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
    }
};

/// A ContextVar<T>'s value box.
template <class T>
struct TypedValue final : Value {
    template <class... A>
    explicit TypedValue(A&&... a) : value(std::forward<A>(a)...) {
        destroy = [](Value* v) noexcept { delete static_cast<TypedValue*>(v); };
        equal = [](const Value& a, const Value& b) noexcept {
            if constexpr (requires(const T& x) { bool(x == x); })
                return bool(static_cast<const TypedValue&>(a).value == static_cast<const TypedValue&>(b).value);
            else
                return &a == &b;
        };
    }
    const T value;
};

/// One trie node: a 32-bit map of the occupied slots and the slots, in bit order. A slot is a
/// leaf (key != 0: a key and its Value) or a child node (key == 0).
struct Node {
    struct Slot {
        std::uint64_t key;
        void* ptr;  // Value* for a leaf, Node* for a child
    };
    std::atomic<std::uint32_t> refs{1};
    std::uint32_t bitmap = 0;
    std::uint32_t size = 0;   // leaves in this subtree
    std::uint32_t count = 0;  // slots in this node; the slots follow the node in its allocation

    Slot* slots() noexcept { return reinterpret_cast<Slot*>(this + 1); }
    const Slot* slots() const noexcept { return reinterpret_cast<const Slot*>(this + 1); }

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept;
};

/// The hash the trie is indexed by: SplitMix64's finalizer, a bijection of 64-bit integers.
constexpr std::uint64_t mix(std::uint64_t k) noexcept {
    k = (k ^ (k >> 30)) * 0xbf58476d1ce4e5b9ull;
    k = (k ^ (k >> 27)) * 0x94d049bb133111ebull;
    return k ^ (k >> 31);
}

class Map {
public:
    Map() noexcept = default;
    Map(const Map& o) noexcept : root_(o.root_) {
        if (root_) root_->add_ref();
    }
    Map(Map&& o) noexcept : root_(std::exchange(o.root_, nullptr)) {}
    Map& operator=(Map o) noexcept {
        std::swap(root_, o.root_);
        return *this;
    }
    ~Map() {
        if (root_) root_->release();
    }

    /// The value of `key`, or null. Never allocates, never throws.
    const Value* find(std::uint64_t key) const noexcept {
        const Node* n = root_;
        std::uint64_t h = mix(key);
        while (n) {
            const std::uint32_t bit = 1u << (h & 31);
            if (!(n->bitmap & bit)) return nullptr;
            const Node::Slot& s = n->slots()[std::popcount(n->bitmap & (bit - 1))];
            if (s.key != 0) return s.key == key ? static_cast<const Value*>(s.ptr) : nullptr;
            n = static_cast<const Node*>(s.ptr);
            h >>= 5;
        }
        return nullptr;
    }
    /// A map with `key` bound to `value` (a reference to it is taken).
    Map set(std::uint64_t key, Value& value) const;
    /// A map without `key` (this map, shared, if it has no such key).
    Map erase(std::uint64_t key) const;
    std::size_t size() const noexcept { return root_ ? root_->size : 0; }
    bool empty() const noexcept { return root_ == nullptr; }
    /// fn(key, value) for every entry, in no particular order.
    template <class F>
    void for_each(F&& fn) const {
        if (root_) visit(*root_, fn);
    }
    /// Same keys, and equal values (a type without operator== compares by identity).
    friend bool operator==(const Map& a, const Map& b) noexcept;
    void swap_with(Map& o) noexcept { std::swap(root_, o.root_); }
    /// True if both are the very same trie (the O(1) part of ==).
    bool same(const Map& o) const noexcept { return root_ == o.root_; }

private:
    explicit Map(Node* adopted) noexcept : root_(adopted) {}
    template <class F>
    static void visit(const Node& n, F& fn) {
        for (std::uint32_t i = 0; i < n.count; ++i) {
            const Node::Slot& s = n.slots()[i];
            if (s.key != 0)
                fn(s.key, *static_cast<const Value*>(s.ptr));
            else
                visit(*static_cast<const Node*>(s.ptr), fn);
        }
    }
    Node* root_ = nullptr;
};

}  // namespace nogil::contextvars::detail
