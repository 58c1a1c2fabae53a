#pragma once
// nogil's exceptions: Python's names, one hierarchy, re-exported in each module namespace
// where Python has them (nogil::concurrent::futures::TimeoutError is nogil::TimeoutError).
//
// Python's ValueError is std::invalid_argument and Python's RuntimeError is std::runtime_error;
// nogil throws those directly, with a message that names the argument.
//
// Thread safety (every class here): an exception object is immutable once built; copies may be
// read on any threads at once, and an exception_ptr to one may be rethrown on another thread
// (concurrent.futures does so). Nothing here runs callbacks.

#include <cerrno>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace nogil {

/// A blocking call ran out of time (Python's builtin TimeoutError, which concurrent.futures
/// and asyncio both use since 3.11).
class TimeoutError : public std::runtime_error {
public:
    explicit TimeoutError(const std::string& message = "") : std::runtime_error(message) {}
};

/// The operation or its future was cancelled. Carries the message given to cancel(msg).
class CancelledError : public std::exception {
public:
    CancelledError() = default;
    explicit CancelledError(std::string message) : message_(std::move(message)) {}
    const char* what() const noexcept override { return message_.c_str(); }
    /// The message passed to cancel(msg); empty when none was given.
    const std::string& message() const noexcept { return message_; }

private:
    std::string message_;
};

/// A future was asked for something its state does not allow (set twice, result while pending).
class InvalidStateError : public std::runtime_error {
public:
    explicit InvalidStateError(const std::string& message) : std::runtime_error(message) {}
};

/// An executor can no longer run work: a worker failed to start or died.
class BrokenExecutor : public std::runtime_error {
public:
    explicit BrokenExecutor(const std::string& message) : std::runtime_error(message) {}
};

/// A ThreadPoolExecutor's initializer failed.
class BrokenThreadPool : public BrokenExecutor {
public:
    using BrokenExecutor::BrokenExecutor;
};

/// A ProcessPoolExecutor's worker process died or failed to start.
class BrokenProcessPool : public BrokenExecutor {
public:
    using BrokenExecutor::BrokenExecutor;
};

/// A Barrier was broken (reset, aborted, or a waiter timed out) while threads waited on it.
class BrokenBarrierError : public std::runtime_error {
public:
    explicit BrokenBarrierError(const std::string& message = "") : std::runtime_error(message) {}
};

/// Several exceptions raised together (TaskGroup, gather collection). Python 3.11's ExceptionGroup.
class ExceptionGroup : public std::exception {
public:
    ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
        : message_(std::move(message)), exceptions_(std::move(exceptions)) {
        if (exceptions_.empty()) throw std::invalid_argument("ExceptionGroup: exceptions must be a non-empty sequence");
        what_ = message_ + " (" + std::to_string(exceptions_.size()) + " sub-exception" +
                (exceptions_.size() == 1 ? ")" : "s)");
    }
    const char* what() const noexcept override { return what_.c_str(); }
    const std::string& message() const noexcept { return message_; }
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

private:
    std::string message_;
    std::string what_;
    std::vector<std::exception_ptr> exceptions_;
};

/// Python's OverflowError: a number too large for the call, e.g. a threading timeout above
/// threading::TIMEOUT_MAX.
class OverflowError : public std::overflow_error {
public:
    explicit OverflowError(const std::string& message) : std::overflow_error(message) {}
};

/// Python's LookupError: a key or index that is not there, e.g. ContextVar::get() of a variable
/// with no value and no default.
class LookupError : public std::runtime_error {
public:
    explicit LookupError(const std::string& message) : std::runtime_error(message) {}
};

/// Python's KeyError (a LookupError): a mapping has no such key, e.g. contextvars::Context's
/// operator[] of a variable the context does not hold.
class KeyError : public LookupError {
public:
    using LookupError::LookupError;
};

/// Python's AttributeError: an object has no such attribute, e.g. a manager Namespace proxy's
/// get() of a name never set.
class AttributeError : public std::runtime_error {
public:
    explicit AttributeError(const std::string& message) : std::runtime_error(message) {}
};

/// Python's OSError: carries errno as a std::error_code.
class OSError : public std::system_error {
public:
    using std::system_error::system_error;
    explicit OSError(int errno_value, const std::string& what = "")
        : std::system_error(errno_value, std::generic_category(), what) {}
};

/// Python's FileNotFoundError (an OSError with errno ENOENT): e.g. a program that does not exist
/// given to asyncio::create_subprocess_exec.
class FileNotFoundError : public OSError {
public:
    explicit FileNotFoundError(const std::string& what = "") : OSError(ENOENT, what) {}
};

/// Python's FileExistsError (an OSError with errno EEXIST): e.g. creating a SharedMemory whose
/// name is taken.
class FileExistsError : public OSError {
public:
    explicit FileExistsError(const std::string& what = "") : OSError(EEXIST, what) {}
};

/// Python's ProcessLookupError (an OSError with errno ESRCH): signalling a process that is gone.
class ProcessLookupError : public OSError {
public:
    explicit ProcessLookupError(const std::string& what = "") : OSError(ESRCH, what) {}
};

/// Python's KeyboardInterrupt: asyncio::run() throws it after Ctrl-C (SIGINT) cancelled the
/// main task. Like Python's (a BaseException), it is not a std::runtime_error.
class KeyboardInterrupt : public std::exception {
public:
    const char* what() const noexcept override { return "KeyboardInterrupt"; }
};

/// Python's SystemExit: like KeyboardInterrupt, an exception that is not an error (a
/// BaseException). `code` is the exit status the program means to end with.
class SystemExit : public std::exception {
public:
    explicit SystemExit(int code = 0) noexcept : code(code) {}
    const char* what() const noexcept override { return "SystemExit"; }
    int code;
};

/// True if `e` is a KeyboardInterrupt or a SystemExit (or derives from one): Python's
/// `isinstance(exc, (SystemExit, KeyboardInterrupt))`, the exceptions asyncio never treats as a
/// task's failure. Raised in a task, a TaskGroup body, a callback or while a cancellation is
/// handled, they leave the event loop bare (run() throws them), never inside an ExceptionGroup.
inline bool is_exit_exception(const std::exception_ptr& e) noexcept {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const KeyboardInterrupt&) {
        return true;
    } catch (const SystemExit&) {
        return true;
    } catch (...) {
        return false;
    }
}

// Python's ConnectionError family (what a peer that resets, refuses or hangs up raises) and
// socket.gaierror. Only the errno-carrying OSError subclasses that asyncio streams raise.
/// Base of the connection errors (Python's ConnectionError).
class ConnectionError : public OSError {
public:
    using OSError::OSError;
};
/// EPIPE / ESHUTDOWN: writing to a connection the peer has closed.
class BrokenPipeError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};
/// ECONNABORTED.
class ConnectionAbortedError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};
/// ECONNREFUSED: nobody listens at the address.
class ConnectionRefusedError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};
/// ECONNRESET: the peer reset the connection (or it was lost, errno 0 with a message).
class ConnectionResetError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};
/// getaddrinfo() failed (Python's socket.gaierror); `eai_code` is the EAI_* value.
class gaierror : public OSError {
public:
    gaierror(int eai_code, std::string message) : OSError(EINVAL), eai_code(eai_code), message_(std::move(message)) {}
    /// The message alone (gai_strerror's text and the host), without errno's text.
    const char* what() const noexcept override { return message_.c_str(); }
    int eai_code;

private:
    std::string message_;
};

// Python's ssl exceptions (re-exported in nogil::ssl). Declared here, OpenSSL-free: only the
// nogil::ssl target raises them, with OpenSSL's reason (docs/ssl.md).
/// ssl.SSLError: an OpenSSL failure. `library` ("SSL", "X509", "PEM"...) and `reason`
/// ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER"...) as in Python; what() is Python's
/// "[SSL: REASON] text" without the "(_ssl.c:NNN)" tail. errno is the SSL_ERROR_* code.
class SSLError : public OSError {
public:
    SSLError(int ssl_error, std::string message, std::string library = {}, std::string reason = {})
        : OSError(ssl_error), library(std::move(library)), reason(std::move(reason)), message_(std::move(message)) {}
    const char* what() const noexcept override { return message_.c_str(); }
    std::string library;
    std::string reason;

private:
    std::string message_;
};
/// ssl.SSLCertVerificationError (alias CertificateError): the peer's certificate did not
/// verify. `verify_code` is OpenSSL's X509_V_ERR_* value, `verify_message` its text
/// ("certificate has expired", "Hostname mismatch, certificate is not valid for 'x'.").
class SSLCertVerificationError : public SSLError {
public:
    SSLCertVerificationError(int ssl_error, std::string message, long verify_code, std::string verify_message)
        : SSLError(ssl_error, std::move(message), "SSL", "CERTIFICATE_VERIFY_FAILED"),
          verify_code(verify_code), verify_message(std::move(verify_message)) {}
    long verify_code;
    std::string verify_message;
};
/// ssl.CertificateError: Python's alias of SSLCertVerificationError.
using CertificateError = SSLCertVerificationError;
/// ssl.SSLZeroReturnError: the peer closed the TLS session (close_notify). Streams turn it into
/// EOF, as Python's do; it is raised by operations on a closed session.
class SSLZeroReturnError : public SSLError {
public:
    explicit SSLZeroReturnError(std::string message = "TLS/SSL connection has been closed (EOF)")
        : SSLError(6, std::move(message)) {}  // 6: SSL_ERROR_ZERO_RETURN
};

/// Python's EOFError: a Connection's other end closed with nothing left to receive.
class EOFError : public std::runtime_error {
public:
    explicit EOFError(const std::string& message = "") : std::runtime_error(message) {}
};

/// multiprocessing.ProcessError: a child process could not be started, or died while doing
/// work for us (a Pool task whose worker was killed fails with this).
class ProcessError : public std::runtime_error {
public:
    explicit ProcessError(const std::string& message) : std::runtime_error(message) {}
};

/// multiprocessing.BufferTooShort: Connection::recv_bytes_into was given a buffer too small for
/// the message. The message is consumed; message() holds it whole (Python's e.args[0]).
class BufferTooShort : public ProcessError {
public:
    explicit BufferTooShort(std::string message_bytes)
        : ProcessError("BufferTooShort: the message (" + std::to_string(message_bytes.size()) +
                       " bytes) does not fit in the buffer"),
          message_(std::move(message_bytes)) {}
    /// The message that was received, whole.
    const std::string& message() const noexcept { return message_; }

private:
    std::string message_;
};

/// multiprocessing.AuthenticationError: a manager (or its client) was given the wrong authkey;
/// the connection is refused during the handshake (multiprocessing/managers.hpp).
class AuthenticationError : public ProcessError {
public:
    explicit AuthenticationError(const std::string& message) : ProcessError(message) {}
};

/// An exception thrown in a child process whose type the parent cannot rebuild (neither a standard
/// exception nor one registered with multiprocessing::register_exception). Carries the child's
/// demangled type name, its what() and which process threw it (multiprocessing's RemoteError).
class RemoteError : public ProcessError {
public:
    RemoteError(std::string type_name, std::string message, std::string process)
        : ProcessError(type_name + ": " + message + " (raised in " + process + ")"),
          type_name_(std::move(type_name)), message_(std::move(message)), process_(std::move(process)) {}
    /// The demangled C++ type of the exception thrown in the child (e.g. "app::ParseError").
    const std::string& type_name() const noexcept { return type_name_; }
    /// The child exception's what().
    const std::string& message() const noexcept { return message_; }
    /// The child that threw it: "<name> (pid <pid>)".
    const std::string& process() const noexcept { return process_; }

private:
    std::string type_name_;
    std::string message_;
    std::string process_;
};

namespace queue {
/// get_nowait() or a timed get() on an empty queue.
class Empty : public std::runtime_error {
public:
    Empty() : std::runtime_error("queue.Empty") {}
};
/// put_nowait() or a timed put() on a full queue.
class Full : public std::runtime_error {
public:
    Full() : std::runtime_error("queue.Full") {}
};
/// put() or get() on a queue that was shut down (Python 3.13).
class ShutDown : public std::runtime_error {
public:
    ShutDown() : std::runtime_error("queue.ShutDown") {}
};
}  // namespace queue

namespace asyncio {
using nogil::CancelledError;
using nogil::ExceptionGroup;
using nogil::InvalidStateError;
using nogil::TimeoutError;
using BrokenBarrierError = nogil::BrokenBarrierError;

class QueueEmpty : public std::runtime_error {
public:
    QueueEmpty() : std::runtime_error("asyncio.QueueEmpty") {}
};
class QueueFull : public std::runtime_error {
public:
    QueueFull() : std::runtime_error("asyncio.QueueFull") {}
};
class QueueShutDown : public std::runtime_error {
public:
    QueueShutDown() : std::runtime_error("asyncio.QueueShutDown") {}
};

/// The stream ended before `expected` bytes were read; `partial` holds what was read.
class IncompleteReadError : public std::runtime_error {
public:
    IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
        : std::runtime_error(std::to_string(partial.size()) + " bytes read on a total of " +
                             (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes"),
          partial(std::move(partial)), expected(expected) {}
    std::string partial;
    std::optional<std::size_t> expected;
};

/// The separator was not found within the stream's limit; `consumed` bytes are to be consumed.
class LimitOverrunError : public std::runtime_error {
public:
    LimitOverrunError(const std::string& message, std::size_t consumed)
        : std::runtime_error(message), consumed(consumed) {}
    std::size_t consumed;
};
}  // namespace asyncio

namespace concurrent::futures {
using nogil::BrokenExecutor;
using nogil::BrokenProcessPool;
using nogil::BrokenThreadPool;
using nogil::CancelledError;
using nogil::InvalidStateError;
using nogil::TimeoutError;
}  // namespace concurrent::futures

namespace threading {
using nogil::BrokenBarrierError;
}  // namespace threading

namespace multiprocessing {
using nogil::BrokenBarrierError;
using nogil::BufferTooShort;
using nogil::EOFError;
using nogil::ProcessError;
using nogil::RemoteError;
using nogil::TimeoutError;
}  // namespace multiprocessing

}  // namespace nogil
