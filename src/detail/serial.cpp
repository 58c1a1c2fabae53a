#include <nogil/detail/serial.hpp>
#include <nogil/multiprocessing/detail/fd.hpp>

#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace nogil::detail::serial {

namespace {
// The descriptor side list of the (de)serialization running on this thread, if any.
thread_local std::vector<UniqueFd>* current_fds = nullptr;
}  // namespace

FdScope::FdScope(std::vector<UniqueFd>* fds) noexcept : previous_(current_fds) { current_fds = fds; }
FdScope::~FdScope() { current_fds = previous_; }

std::uint32_t export_fd(int fd) {
    if (current_fds == nullptr)
        throw std::logic_error("nogil::multiprocessing: an object holding a file descriptor can only be serialized "
                               "by nogil (Process args, Connection::send, Queue::put, Pool tasks)");
    UniqueFd copy(static_cast<int>(::nogil::multiprocessing::detail::check_os(::fcntl(fd, F_DUPFD_CLOEXEC, 0), "dup of a shared descriptor")));
    current_fds->push_back(std::move(copy));
    return static_cast<std::uint32_t>(current_fds->size() - 1);
}

UniqueFd import_fd(std::uint32_t index) {
    if (current_fds == nullptr || index >= current_fds->size() || !(*current_fds)[index])
        throw std::runtime_error("nogil::multiprocessing: received a descriptor index (" + std::to_string(index) +
                                 ") that the message did not carry");
    return std::move((*current_fds)[index]);
}

void throw_trailing_bytes(std::size_t count) {
    throw std::runtime_error("nogil::multiprocessing: corrupt message: " + std::to_string(count) +
                             " bytes left after its values");
}

}  // namespace nogil::detail::serial
