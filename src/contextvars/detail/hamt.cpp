// The persistent map's updates (include/nogil/contextvars/detail/hamt.hpp). Every update copies
// the nodes on the path from the root to the changed slot (at most 13, each at most 32 slots)
// and shares everything else.
#include <nogil/contextvars/detail/hamt.hpp>

#include <cstring>
#include <new>

namespace nogil::contextvars::detail {

namespace {

using Slot = Node::Slot;
static_assert(sizeof(Node) % alignof(Slot) == 0, "the slots follow the node");

Node* allocate(std::uint32_t count) {
    void* p = ::operator new(sizeof(Node) + count * sizeof(Slot));
    Node* n = new (p) Node;
    n->count = count;
    return n;
}

void add_ref_slot(const Slot& s) noexcept {
    if (s.key != 0)
        static_cast<Value*>(s.ptr)->add_ref();
    else
        static_cast<Node*>(s.ptr)->add_ref();
}

std::uint32_t slot_size(const Slot& s) noexcept { return s.key != 0 ? 1 : static_cast<const Node*>(s.ptr)->size; }

/// A copy of `n` with `extra` more (or fewer, if negative) slots at position `at`; the slots
/// kept get a reference each, the new ones are left for the caller to fill.
Node* copy_with_gap(const Node& n, std::uint32_t at, int extra) {
    Node* c = allocate(n.count + extra);
    c->bitmap = n.bitmap;
    const Slot* from = n.slots();
    Slot* to = c->slots();
    if (extra >= 0) {
        std::memcpy(to, from, at * sizeof(Slot));
        std::memcpy(to + at + extra, from + at, (n.count - at) * sizeof(Slot));
    } else {  // drop slot `at`
        std::memcpy(to, from, at * sizeof(Slot));
        std::memcpy(to + at, from + at + 1, (n.count - at - 1) * sizeof(Slot));
    }
    for (std::uint32_t i = 0; i < c->count; ++i)
        if (extra < 0 || i < at || i >= at + static_cast<std::uint32_t>(extra)) add_ref_slot(to[i]);
    return c;
}

void recount(Node* n) noexcept {
    std::uint32_t size = 0;
    for (std::uint32_t i = 0; i < n->count; ++i) size += slot_size(n->slots()[i]);
    n->size = size;
}

/// A node holding two leaves whose hashes agree below `shift` (at least one level deeper).
Node* pair(std::uint64_t k1, void* v1, std::uint64_t k2, void* v2, unsigned shift) {
    const std::uint32_t i1 = (mix(k1) >> shift) & 31, i2 = (mix(k2) >> shift) & 31;
    if (i1 == i2) {
        Node* n = allocate(1);
        n->bitmap = 1u << i1;
        n->slots()[0] = {0, pair(k1, v1, k2, v2, shift + 5)};
        n->size = 2;
        return n;
    }
    Node* n = allocate(2);
    n->bitmap = (1u << i1) | (1u << i2);
    n->slots()[i1 < i2 ? 0 : 1] = {k1, v1};
    n->slots()[i1 < i2 ? 1 : 0] = {k2, v2};
    n->size = 2;
    return n;
}

Node* assoc(const Node& n, std::uint64_t key, Value& value, unsigned shift) {
    const std::uint32_t bit = 1u << ((mix(key) >> shift) & 31);
    const std::uint32_t at = std::popcount(n.bitmap & (bit - 1));
    if (!(n.bitmap & bit)) {
        Node* c = copy_with_gap(n, at, 1);
        c->bitmap |= bit;
        value.add_ref();
        c->slots()[at] = {key, &value};
        c->size = n.size + 1;
        return c;
    }
    const Slot& s = n.slots()[at];
    Slot replacement;
    if (s.key == key) {
        value.add_ref();
        replacement = {key, &value};
    } else if (s.key != 0) {
        static_cast<Value*>(s.ptr)->add_ref();
        value.add_ref();
        replacement = {0, pair(s.key, s.ptr, key, &value, shift + 5)};
    } else {
        replacement = {0, assoc(*static_cast<const Node*>(s.ptr), key, value, shift + 5)};
    }
    Node* c = copy_with_gap(n, at, 0);
    // copy_with_gap took a reference to the old slot: give it back.
    Slot& old = c->slots()[at];
    if (old.key != 0)
        static_cast<Value*>(old.ptr)->release();
    else
        static_cast<Node*>(old.ptr)->release();
    old = replacement;
    recount(c);
    return c;
}

enum class Erased { absent, removed, changed };

/// Erases `key` below `n`. `out` receives the new node (null when `n` became empty; a lone leaf
/// left in a child node is moved up into its parent, so the trie stays as shallow as CPython's).
Erased without(const Node& n, std::uint64_t key, unsigned shift, Node*& out) {
    const std::uint32_t bit = 1u << ((mix(key) >> shift) & 31);
    if (!(n.bitmap & bit)) return Erased::absent;
    const std::uint32_t at = std::popcount(n.bitmap & (bit - 1));
    const Slot& s = n.slots()[at];
    Slot replacement{};
    bool drop = false;
    if (s.key != 0) {
        if (s.key != key) return Erased::absent;
        drop = true;
    } else {
        Node* child = nullptr;
        if (without(*static_cast<const Node*>(s.ptr), key, shift + 5, child) == Erased::absent) return Erased::absent;
        if (!child) {
            drop = true;
        } else if (child->count == 1 && child->slots()[0].key != 0) {  // a lone leaf moves up
            replacement = child->slots()[0];
            static_cast<Value*>(replacement.ptr)->add_ref();
            child->release();
        } else {
            replacement = {0, child};
        }
    }
    if (drop) {
        if (n.count == 1) {
            out = nullptr;
            return Erased::removed;
        }
        Node* c = copy_with_gap(n, at, -1);
        c->bitmap &= ~bit;
        recount(c);
        out = c;
        return Erased::changed;
    }
    Node* c = copy_with_gap(n, at, 0);
    Slot& old = c->slots()[at];
    static_cast<Node*>(old.ptr)->release();  // the child being replaced
    old = replacement;
    recount(c);
    out = c;
    return Erased::changed;
}

}  // namespace

void Node::release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    for (std::uint32_t i = 0; i < count; ++i) {
        Slot& s = slots()[i];
        if (s.key != 0)
            static_cast<Value*>(s.ptr)->release();
        else
            static_cast<Node*>(s.ptr)->release();
    }
    this->~Node();
    ::operator delete(this);
}

Map Map::set(std::uint64_t key, Value& value) const {
    if (!root_) {
        Node* n = allocate(1);
        n->bitmap = 1u << (mix(key) & 31);
        value.add_ref();
        n->slots()[0] = {key, &value};
        n->size = 1;
        return Map(n);
    }
    return Map(assoc(*root_, key, value, 0));
}

Map Map::erase(std::uint64_t key) const {
    if (!root_) return *this;
    Node* out = nullptr;
    switch (without(*root_, key, 0, out)) {
        case Erased::absent:
            return *this;
        case Erased::removed:
            return Map();
        case Erased::changed:
            break;
    }
    return Map(out);
}

bool operator==(const Map& a, const Map& b) noexcept {
    if (a.same(b)) return true;
    if (a.size() != b.size()) return false;
    bool equal = true;
    a.for_each([&](std::uint64_t key, const Value& v) {
        if (!equal) return;
        const Value* w = b.find(key);
        equal = w && (w == &v || v.equal(v, *w));
    });
    return equal;
}

}  // namespace nogil::contextvars::detail
