#include "multiprocessing/detail/child.hpp"
#include "multiprocessing/detail/resource_tracker.hpp"
#include <nogil/multiprocessing/shared_memory.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <random>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nogil::multiprocessing::shared_memory {

namespace {

void track_name(const std::string& posix_name) { detail::tracker_register(posix_name); }
void untrack_name(const std::string& posix_name) { detail::tracker_unregister(posix_name); }

std::string random_name() {
    static std::mutex& m = *[] {
        auto* created = new std::mutex;
        detail::reinit_after_fork(created);
        return created;
    }();
    static std::mt19937_64 gen(std::random_device{}());
    std::lock_guard lock(m);
    char buf[32];
    std::snprintf(buf, sizeof buf, "psm_%016llx", static_cast<unsigned long long>(gen()));
    return buf;
}

}  // namespace

struct SharedMemory::Impl {
    std::mutex mutex;
    std::string name;        // without '/'
    std::string posix_name;  // with '/'
    void* data = nullptr;
    std::size_t size = 0;

    ~Impl() {
        if (data != nullptr) ::munmap(data, size);
    }
};

SharedMemory::SharedMemory(std::optional<std::string> name, bool create, std::size_t size, bool track)
    : impl_(std::make_shared<Impl>()) {
    if (!create && !name) throw std::invalid_argument("SharedMemory: 'name' can only be None if create=True");
    if (create && size == 0) throw std::invalid_argument("SharedMemory: 'size' must be a positive number different from zero");
    if (name && (name->empty() || name->find('/') != std::string::npos))
        throw std::invalid_argument("SharedMemory: 'name' must be non-empty and contain no '/'");
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
        impl_->name = name ? *name : random_name();
        impl_->posix_name = "/" + impl_->name;
        int flags = create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR;
        fd = ::shm_open(impl_->posix_name.c_str(), flags | O_CLOEXEC, 0600);
        if (fd >= 0) break;
        if (errno == EEXIST && !name && attempt < 16) continue;  // random name collision: retry
        if (errno == ENOENT) throw FileNotFoundError("No such file or directory: '" + impl_->posix_name + "'");
        if (errno == EEXIST) throw FileExistsError("File exists: '" + impl_->posix_name + "'");
        throw OSError(errno, "SharedMemory '" + impl_->name + "'");
    }
    detail::UniqueFd owned(fd);
    if (create) {
        if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
            int e = errno;
            ::shm_unlink(impl_->posix_name.c_str());
            throw OSError(e, "SharedMemory: ftruncate");
        }
        if (track) track_name(impl_->posix_name);
    } else {
        struct stat st{};
        detail::check_os(::fstat(fd, &st), "SharedMemory: fstat");
        size = static_cast<std::size_t>(st.st_size);
        if (size == 0) throw std::invalid_argument("SharedMemory: '" + impl_->name + "' has size zero");
    }
    void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) throw OSError(errno, "SharedMemory: mmap");
    impl_->data = data;
    impl_->size = size;
}

std::span<std::byte> SharedMemory::buf() const {
    std::lock_guard lock(impl_->mutex);
    return {static_cast<std::byte*>(impl_->data), impl_->data != nullptr ? impl_->size : 0};
}
const std::string& SharedMemory::name() const { return impl_->name; }
std::size_t SharedMemory::size() const { return impl_->size; }

void SharedMemory::close() {
    std::lock_guard lock(impl_->mutex);
    if (impl_->data != nullptr) ::munmap(impl_->data, impl_->size);
    impl_->data = nullptr;
}

void SharedMemory::unlink() {
    untrack_name(impl_->posix_name);  // harmless for a name this program did not create
    if (::shm_unlink(impl_->posix_name.c_str()) != 0) {
        if (errno == ENOENT) throw FileNotFoundError("No such file or directory: '" + impl_->posix_name + "'");
        throw OSError(errno, "SharedMemory.unlink '" + impl_->name + "'");
    }
}

}  // namespace nogil::multiprocessing::shared_memory
