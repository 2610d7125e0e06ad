// pybind11 bindings: type conversion, GIL release and error mapping only.
// Keys cross the boundary as str decoded from UTF-8 with "surrogateescape",
// so arbitrary key bytes survive a round trip; bytes are accepted too.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "buffer_pool.h"
#include "bulk_rows.h"
#include "bundle_entry.h"
#include "bundle_reader.h"
#include "bundle_writer.h"
#include "crc32c.h"
#include "dtypes.h"
#include "errors.h"
#include "file_copy.h"
#include "flatbuffer.h"
#include "graph_scan.h"
#include "read_ahead.h"
#include "slice_key.h"
#include "snappy.h"
#include "table_builder.h"
#include "table_reader.h"
#include "tensor_stats.h"
#include "tensor_strings.h"
#include "tflite_model.h"
#include "v1_reader.h"

namespace py = pybind11;
using namespace tfbundle;

namespace {

std::string key_bytes(py::handle key) {
  if (PyBytes_Check(key.ptr())) return std::string(PyBytes_AS_STRING(key.ptr()), PyBytes_GET_SIZE(key.ptr()));
  if (!PyUnicode_Check(key.ptr())) throw py::type_error("checkpoint keys are str or bytes");
  py::object encoded =
      py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(key.ptr(), "utf-8", "surrogateescape"));
  if (!encoded) throw py::error_already_set();
  return std::string(PyBytes_AS_STRING(encoded.ptr()), PyBytes_GET_SIZE(encoded.ptr()));
}

bool is_ascii(std::string_view bytes) {
  unsigned char any = 0;
  for (char c : bytes) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

// A key as str: UTF-8 with surrogateescape, so that any bytes round-trip.
// ASCII keys (nearly all) are copied straight into a compact str.
py::str key_str(std::string_view key) {
  const auto n = static_cast<Py_ssize_t>(key.size());
  PyObject* s = nullptr;
  if (is_ascii(key)) {
    s = PyUnicode_New(n, 127);
    if (s != nullptr) std::memcpy(PyUnicode_DATA(s), key.data(), key.size());
  } else {
    // n is key.size(): the check does not see that the size is passed.
    s = PyUnicode_DecodeUTF8(key.data(), n, "surrogateescape");  // NOLINT(bugprone-suspicious-stringview-data-usage)
  }
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

template <typename Shape>
py::tuple shape_tuple(const Shape& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); i++) t[i] = py::int_(shape[i]);
  return t;
}

std::vector<int64_t> shape_vector(const py::sequence& shape) {
  std::vector<int64_t> out;
  for (auto d : shape) out.push_back(d.cast<int64_t>());
  return out;
}

SliceExtents extents_from(const py::sequence& extents) {
  SliceExtents out;
  for (auto item : extents) {
    auto pair = item.cast<py::tuple>();
    out.push_back(Extent{pair[0].cast<int64_t>(), pair[1].cast<int64_t>()});
  }
  return out;
}

py::list extents_list(const SliceExtents& slice) {
  py::list out;
  for (const Extent& e : slice) out.append(py::make_tuple(e.start, e.length));
  return out;
}

// Clears an array's WRITEABLE flag (numpy's flags field is an int by its C API).
void make_readonly(const py::array& a) {
  auto& flags = py::detail::array_proxy(a.ptr())->flags;
  flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;  // NOLINT(bugprone-signed-bitwise)
}

// A read-only 1-D uint8 array over mapped bytes that keeps the mapping alive.
py::array readonly_bytes(std::shared_ptr<MappedFile> owner, std::string_view bytes) {
  if (bytes.empty()) {
    py::array_t<uint8_t> empty(0);
    make_readonly(empty);
    return std::move(empty);
  }
  auto* keep = new std::shared_ptr<MappedFile>(std::move(owner));
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<MappedFile>*>(p); });
  py::array_t<uint8_t> arr({static_cast<py::ssize_t>(bytes.size())}, {1},
                           reinterpret_cast<const uint8_t*>(bytes.data()), base);
  make_readonly(arr);
  return std::move(arr);
}

// Arrays from this size up come from the buffer pool: below it, a capsule
// and a mapping cost more than numpy's malloc, which reuses its heap; above
// it, malloc maps fresh pages (glibc's mmap threshold is 128 KiB to 32 MiB,
// and it trims its heap on free), and a fresh page's fault and zeroing cost
// more than the pool's recycled ones: 2048 tensors of 256 KiB read 3.4x
// faster from the pool on the 2-core VM (a 1 MiB threshold before).
constexpr size_t kPooledArrayBytes = 64 << 10;
static_assert(ReadAhead::kMinBytes >= kPooledArrayBytes, "reads ahead fill pooled buffers");

// A C-contiguous array of `dtype` and `shape` over a pooled buffer, which
// goes back to the pool when the array is freed.
py::array array_over(const Buffer& acquired, const py::dtype& dtype, const std::vector<py::ssize_t>& shape) {
  auto* buffer = new Buffer(acquired);
  py::capsule owner(buffer, [](void* p) {
    auto* b = static_cast<Buffer*>(p);
    release_buffer(*b);
    delete b;
  });
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = dtype.itemsize();
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array(dtype, shape, strides, buffer->data, owner);
}

// A new C-contiguous array of `dtype` and `shape` holding n bytes for a
// tensor read: all but small ones come from the buffer pool (recycled;
// fresh ones populated as reads fill them), small ones from numpy.
py::array allocate_array(const py::dtype& dtype, const std::vector<py::ssize_t>& shape, size_t n) {
  if (n < kPooledArrayBytes) return py::array(dtype, shape);
  Buffer acquired;
  try {
    acquired = acquire_buffer(n);
  } catch (const std::bad_alloc&) {
    // Out of mappings (vm.max_map_count) or address space: numpy's malloc
    // may still find room, and raises MemoryError if not.
    return py::array(dtype, shape);
  }
  return array_over(acquired, dtype, shape);
}

// The numpy shape of entry i.
std::vector<py::ssize_t> array_shape(const BundleReader& r, size_t i) {
  return std::vector<py::ssize_t>(r.dims(i), r.dims(i) + r.rank(i));
}

// A writable 1-D uint8 array of n bytes (see allocate_array).
py::array allocate_destination(size_t n) {
  return allocate_array(py::dtype::of<uint8_t>(), {static_cast<py::ssize_t>(n)}, n);
}

// The numpy dtype each fixed-size TensorFlow DataType reads as, by enum,
// registered by the Python layer (which owns the ml_dtypes mapping). Never
// freed: dtypes are immortal in practice and this outlives every reader.
std::vector<py::object>& numpy_dtypes() {
  static auto* table = new std::vector<py::object>(256);
  return *table;
}

// The registered numpy dtype of a TensorFlow enum, or None.
py::object registered_dtype(int32_t dtype) {
  auto& dtypes = numpy_dtypes();
  if (dtype < 0 || static_cast<size_t>(dtype) >= dtypes.size() || !dtypes[static_cast<size_t>(dtype)])
    return py::none();
  return dtypes[static_cast<size_t>(dtype)];
}

// Suspends the cyclic garbage collector while a large dict or list is built:
// tens of thousands of fresh containers would otherwise trigger repeated
// full collections over the whole heap (costly next to TensorFlow's).
class GcPause {
 public:
  GcPause() {
#if PY_VERSION_HEX >= 0x030A0000
    was_enabled_ = PyGC_Disable();
#endif
  }
  ~GcPause() {
#if PY_VERSION_HEX >= 0x030A0000
    if (was_enabled_) PyGC_Enable();
#endif
  }

 private:
  int was_enabled_ = 0;
};

// A new reference to a list of ints (raw C API: this runs once per entry of
// checkpoints with a million keys). The list is untracked by the cyclic GC,
// as CPython itself does for tuples and dicts of atoms: ints cannot form a
// cycle, and 20 000 tracked lists cost a full young-generation pass (over a
// millisecond) at the next allocation. The dict holding only untracked
// values then stays untracked too. (A caller who later stores the list
// inside itself makes a cycle the GC will not collect: a leak, never a crash.)
PyObject* new_shape_list(const int64_t* dims, size_t rank) {
  PyObject* l = PyList_New(static_cast<Py_ssize_t>(rank));
  if (l == nullptr) throw py::error_already_set();
  for (size_t i = 0; i < rank; i++) {
    PyObject* v = PyLong_FromLongLong(dims[i]);
    if (v == nullptr) {
      Py_DECREF(l);
      throw py::error_already_set();
    }
    PyList_SET_ITEM(l, static_cast<Py_ssize_t>(i), v);
  }
  PyObject_GC_UnTrack(l);
  return l;
}

// {key: value_of(i)} over the visible entries i; value_of returns a new reference.
template <typename Reader, typename ValueOf>
py::dict entry_dict(const Reader& r, ValueOf value_of) {
  GcPause pause;
#if PY_VERSION_HEX < 0x030D0000
  // Sized once for every key instead of growing through a dozen resizes.
  py::dict out = py::reinterpret_steal<py::dict>(_PyDict_NewPresized(static_cast<Py_ssize_t>(r.num_entries())));
  if (!out) throw py::error_already_set();
#else
  py::dict out;
#endif
  bool holds_tracked = false;
  for (size_t i = 0; i < r.num_entries(); i++) {
    if (r.hidden(i)) continue;
    py::str key = key_str(r.key(i));
    py::object value = py::reinterpret_steal<py::object>(value_of(i));
    holds_tracked = holds_tracked || PyObject_GC_IsTracked(value.ptr());
    if (PyDict_SetItem(out.ptr(), key.ptr(), value.ptr()) != 0) throw py::error_already_set();
  }
  // A dict of str keys and untracked values cannot be part of a cycle; the GC
  // would still walk all its values on every pass. CPython re-tracks the dict
  // by itself as soon as a tracked value is stored in it.
  if (!holds_tracked && PyObject_GC_IsTracked(out.ptr())) PyObject_GC_UnTrack(out.ptr());
  return out;
}

py::list bytes_list(const StringTensor& t) {
  py::list out(t.items.size());
  for (size_t i = 0; i < t.items.size(); i++) out[i] = py::bytes(t.items[i].data(), t.items[i].size());
  return out;
}

// (finite count, NaN count, inf count, min, max, mean, m2, sum of squares).
py::tuple stats_tuple(const TensorStats& t) {
  return py::make_tuple(t.count, t.nan, t.inf, t.min, t.max, t.mean, t.m2, t.sumsq);
}

py::buffer_info writable_buffer(const py::buffer& buffer) {
  py::buffer_info info = buffer.request(true);
  if (!PyBuffer_IsContiguous(info.view(), 'C')) throw py::value_error("destination buffer must be C-contiguous");
  return info;
}

// (dtype, shape, kind, payload) for a decoded TensorProto; kind is "view"
// (read-only bytes over `owner`'s mapping), "bytes" (a new uint8 array) or
// "strings" (a list of bytes). With `copy`, tensor_content in a file is
// copied into a new array by the fast file copy instead of viewed.
py::tuple tensor_value_tuple(const TensorValue& t, std::shared_ptr<MappedFile> owner, bool copy = false) {
  py::tuple shape = shape_tuple(t.shape);
  if (t.dtype == kString) {
    py::list items;
    for (auto s : t.strings) items.append(py::bytes(s.data(), s.size()));
    return py::make_tuple(t.dtype, shape, "strings", items);
  }
  if (t.from_content && owner && owner->mapped()) {
    if (!copy) return py::make_tuple(t.dtype, shape, "view", readonly_bytes(std::move(owner), t.content));
    py::array out = allocate_destination(t.content.size());
    const uint64_t offset = static_cast<uint64_t>(t.content.data() - owner->bytes().data());
    {
      py::gil_scoped_release release;
      copy_from_file(*owner, offset, t.content.size(), out.mutable_data(), false);
    }
    return py::make_tuple(t.dtype, shape, "bytes", out);
  }
  const std::string_view data = t.from_content ? t.content : std::string_view(t.decoded);
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(data.size()));
  if (!data.empty()) std::memcpy(out.mutable_data(), data.data(), data.size());
  return py::make_tuple(t.dtype, shape, "bytes", out);
}

// An open .tflite file: its mapping and the parsed description.
struct TfliteFile {
  std::shared_ptr<MappedFile> file;
  std::string buffer;  // the file's bytes when it could not be mapped
  TfliteModel model;

  std::string_view bytes() const { return file->mapped() ? file->bytes() : std::string_view(buffer); }
};

py::list int_list(const std::vector<int32_t>& v) {
  py::list out;
  for (int32_t x : v) out.append(x);
  return out;
}

py::list named_index_list(const std::vector<std::pair<std::string, uint32_t>>& v) {
  py::list out;
  for (const auto& [name, index] : v) out.append(py::make_tuple(py::bytes(name), index));
  return out;
}

py::dict tflite_tensor_dict(const TfliteTensor& t) {
  py::dict d;
  d["name"] = py::bytes(t.name);
  d["type"] = t.type;
  d["shape"] = int_list(t.shape);
  d["shape_signature"] = t.has_shape_signature ? py::object(int_list(t.shape_signature)) : py::object(py::none());
  d["buffer"] = t.buffer;
  d["is_variable"] = t.is_variable;
  d["sparse"] = t.sparse;
  if (t.has_quantization) {
    const TfliteQuantization& q = t.quantization;
    py::dict qd;
    qd["scale"] = q.scale;
    qd["zero_point"] = q.zero_point;
    qd["min"] = q.min;
    qd["max"] = q.max;
    qd["quantized_dimension"] = q.quantized_dimension;
    qd["details_type"] = q.details_type;
    d["quantization"] = qd;
  } else {
    d["quantization"] = py::none();
  }
  return d;
}

// A scanner plus the node it stands on, for Python iteration.
struct PyGraphScanner {
  GraphScanner scanner;
  GraphNode node;
  bool has_node = false;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "tfbundle's C++ core: tensor bundle reading and writing, CRC32C.";

  static py::exception<DataLoss> data_loss(m, "DataLossError", PyExc_ValueError);
  static py::exception<NotFound> not_found(m, "NotFoundError", PyExc_KeyError);
  // pybind11's translator type takes the exception_ptr by value.
  py::register_exception_translator([](std::exception_ptr p) {  // NOLINT(performance-unnecessary-value-param)
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NotFound& e) {
      py::set_error(not_found, e.what());
    } catch (const DataLoss& e) {
      py::set_error(data_loss, e.what());
    } catch (const FileMissing& e) {
      py::set_error(PyExc_FileNotFoundError, e.what());
    } catch (const IoError& e) {
      py::object err =
          py::reinterpret_steal<py::object>(PyObject_CallFunction(PyExc_OSError, "is", e.errno_value, e.what()));
      PyErr_SetObject(PyExc_OSError, err.ptr());
    } catch (const InvalidArgument& e) {
      py::set_error(PyExc_ValueError, e.what());
    }
  });

  m.def(
      "crc32c",
      [](const py::buffer& data, uint32_t crc) {
        py::buffer_info info = data.request();
        py::gil_scoped_release release;
        return crc32c::extend(crc, info.ptr, static_cast<size_t>(info.size * info.itemsize));
      },
      py::arg("data"), py::arg("crc") = 0, "CRC32C of a buffer, continuing from `crc`.");
  m.def(
      "parse_tflite",
      [](const py::bytes& data) {
        const std::string bytes = data;
        return parse_tflite(bytes, "<tflite>").subgraphs.size();
      },
      "Parses a .tflite model held in bytes (for fuzzing and tests); the number of subgraphs.");
  m.def(
      "read_stack_rows",
      [](const std::vector<std::string>& prefixes, const py::list& columns, bool verify) {
        // columns: [(key, dtype enum, shape, destination)], each destination
        // a writable 2-D array of len(prefixes) rows whose rows are contiguous
        // and hold exactly the tensor's bytes (a column slice of a wider
        // array is fine). Returns [(row, message)] of the rows not read.
        std::vector<StackColumn> cols;
        std::vector<py::buffer_info> held;  // keeps the destinations' buffers alive
        held.reserve(columns.size());
        for (auto item : columns) {
          auto t = item.cast<py::tuple>();
          StackColumn c;
          c.key = key_bytes(t[0]);
          c.dtype = t[1].cast<int32_t>();
          c.shape = t[2].cast<std::vector<int64_t>>();
          held.push_back(t[3].cast<py::buffer>().request(true));
          const py::buffer_info& info = held.back();
          if (info.ndim != 2 || info.shape[0] != static_cast<py::ssize_t>(prefixes.size()) ||
              info.strides[1] != info.itemsize || info.strides[0] < info.shape[1] * info.itemsize) {
            throw py::value_error("a destination must be a 2-D array of one row per checkpoint with contiguous rows");
          }
          c.base = static_cast<char*>(info.ptr);
          c.row_stride = static_cast<size_t>(info.strides[0]);
          c.nbytes = static_cast<size_t>(info.shape[1] * info.itemsize);
          cols.push_back(std::move(c));
        }
        std::vector<std::pair<size_t, std::string>> failed;
        {
          py::gil_scoped_release release;
          failed = read_stack_rows(prefixes, cols, verify);
        }
        py::list out;
        for (auto& [row, message] : failed) out.append(py::make_tuple(row, py::str(message)));
        return out;
      },
      py::arg("prefixes"), py::arg("columns"), py::arg("verify") = true,
      "Reads the same tensors of many V2 checkpoints into rows of arrays; [(row, error)] of rows not read.");
  m.def(
      "array_statistics",
      [](const py::buffer& data, int32_t dtype) -> py::object {
        if (!stats_supported(dtype)) return py::none();
        py::buffer_info info = data.request();
        if (!PyBuffer_IsContiguous(info.view(), 'C')) throw py::value_error("the array must be C-contiguous");
        const size_t n = static_cast<size_t>(info.size * info.itemsize);
        if (n % static_cast<size_t>(element_size(dtype)) != 0) throw py::value_error("a partial element");
        TensorStats stats;
        {
          py::gil_scoped_release release;
          for (size_t done = 0; done < n; done += kStatsChunk) {
            accumulate(&stats, static_cast<const char*>(info.ptr) + done, std::min(kStatsChunk, n - done), dtype);
          }
        }
        return stats_tuple(stats);
      },
      py::arg("data"), py::arg("dtype"),
      "(count, nan, inf, min, max, mean, m2, sumsq) of an array's elements of TF dtype enum `dtype`, or None.");
  m.def("crc32c_mask", &crc32c::mask);
  m.def("crc32c_unmask", &crc32c::unmask);
  m.def("crc32c_implementation", &crc32c::implementation);
  m.def(
      "encode_slice_key",
      [](py::handle name, const py::sequence& extents) {
        const std::string key = encode_slice_key(key_bytes(name), extents_from(extents));
        return key_str(key);
      },
      "The key of one slice of a partitioned variable; extents are (start, length), length -1 = full.");
  m.def(
      "decode_slice_key",
      [](py::handle key) {
        std::string name;
        SliceExtents slice;
        decode_slice_key(key_bytes(key), &name, &slice);
        return py::make_tuple(key_str(name), extents_list(slice));
      },
      "(name, extents) of a partitioned variable's slice key; DataLossError if it is not one.");
  m.def(
      "decode_entry",
      [](const py::bytes& data) {
        const BundleEntry e = decode_entry(std::string(data));
        py::list slices;
        for (const auto& s : e.slices) slices.append(extents_list(s));
        return py::make_tuple(e.dtype, shape_tuple(e.shape), e.shard_id, e.offset, e.size, slices);
      },
      "(dtype, shape, shard_id, offset, size, slices) of a BundleEntryProto.");
  m.def(
      "decode_string_payload",
      [](const py::bytes& data, int64_t n, bool big_endian, bool variant) {
        const std::string payload = data;
        StringTensor t;
        t.items = variant ? decode_variants(payload, n).items : decode_strings(payload, n, big_endian, true).items;
        return bytes_list(t);
      },
      "Elements of a string (or variant) tensor payload, checksums checked.");
  m.def("element_size", &element_size);
  m.def(
      "register_numpy_dtypes",
      [](const py::dict& table) {
        for (auto item : table) {
          const auto enum_value = item.first.cast<int32_t>();
          py::dtype dtype = py::dtype::from_args(py::reinterpret_borrow<py::object>(item.second));
          // Only where one stored element is exactly one numpy item.
          if (enum_value < 0 || enum_value >= 256 || element_size(enum_value) == 0 ||
              dtype.itemsize() != element_size(enum_value)) {
            continue;
          }
          numpy_dtypes()[static_cast<size_t>(enum_value)] = dtype;
        }
      },
      py::arg("table"), "Sets the numpy dtype read_tensor gives each TensorFlow DataType enum.");
  m.def(
      "trim_buffer_cache",
      [] {
        py::gil_scoped_release release;
        return trim_buffer_cache();
      },
      "Returns every cached read buffer to the system; the bytes released.");
  m.def(
      "buffer_cache_bytes",
      [] {
        const BufferCacheBytes b = buffer_cache_bytes();
        return py::make_tuple(b.cached, b.dirty);
      },
      "(cached, dirty): bytes of read buffers the cache holds, and those not yet advised MADV_FREE.");
  m.def("empty_bytes", &allocate_destination, py::arg("nbytes"),
        "A new writable uint8 array; large ones come from the recycled buffer pool.");
  m.def(
      "build_table",
      [](const py::list& items) {
        TableBuilder builder;
        for (auto item : items) {
          auto pair = item.cast<py::tuple>();
          builder.add(key_bytes(pair[0]), key_bytes(pair[1]));
        }
        const std::string out = builder.finish();
        return py::bytes(out);
      },
      "Builds a .index table from [(key, value)] already in bytewise order.");
  m.def(
      "read_table",
      [](const py::bytes& data) {
        const std::string bytes = data;
        py::list out;
        scan_table(bytes, "<table>", [&](std::string_view k, std::string_view v) {
          out.append(py::make_tuple(key_str(k), py::bytes(v.data(), v.size())));
        });
        return out;
      },
      "[(key, value)] of a .index table's bytes, every block checked.");

  m.def(
      "snappy_decompress",
      [](const py::bytes& data) {
        const std::string bytes = data;
        std::string out;
        {
          py::gil_scoped_release release;
          out = snappy::decompress(bytes, "<snappy>: ");
        }
        return py::bytes(out);
      },
      "Decompresses raw Snappy data (as table blocks hold it).");
  m.def(
      "decode_tensor_proto",
      [](const py::bytes& data) {
        const std::string bytes = data;
        return tensor_value_tuple(decode_tensor_proto(bytes), nullptr);
      },
      "(dtype, shape, kind, payload) of a serialized TensorProto, as GraphScanner.value().");

  py::class_<TfliteFile>(m, "TfliteFile")
      .def(
          py::init([](const std::string& path) {
            auto out = std::make_unique<TfliteFile>();
            py::gil_scoped_release release;
            out->file = MappedFile::open(path);
            if (!out->file->mapped()) {
              out->buffer.resize(static_cast<size_t>(out->file->size()));
              out->file->read(0, out->buffer.size(), out->buffer.data());
            }
            // Parsed through pread, not the mapping (see flatbuffer::Buffer).
            const MappedFile& file = *out->file;
            out->model = parse_tflite(flatbuffer::Buffer(
                file.size(), [&file](uint64_t offset, size_t n, char* dst) { file.pread_into(offset, n, dst); }, path));
            return out;
          }),
          py::arg("path"))
      .def_property_readonly("path", [](const TfliteFile& f) { return f.file->path(); })
      .def_property_readonly("version", [](const TfliteFile& f) { return f.model.version; })
      .def_property_readonly("description", [](const TfliteFile& f) { return py::bytes(f.model.description); })
      .def_property_readonly("operator_codes",
                             [](const TfliteFile& f) {
                               py::list out;
                               for (const auto& c : f.model.operator_codes) {
                                 out.append(py::make_tuple(c.builtin_code, py::bytes(c.custom_code), c.version));
                               }
                               return out;
                             })
      .def_property_readonly("buffers",
                             [](const TfliteFile& f) {
                               py::list out;
                               for (const auto& b : f.model.buffers)
                                 out.append(py::make_tuple(b.offset, b.size, b.external));
                               return out;
                             })
      .def_property_readonly("metadata", [](const TfliteFile& f) { return named_index_list(f.model.metadata); })
      .def_property_readonly("signatures",
                             [](const TfliteFile& f) {
                               py::list out;
                               for (const auto& s : f.model.signatures) {
                                 out.append(py::make_tuple(py::bytes(s.key), s.subgraph, named_index_list(s.inputs),
                                                           named_index_list(s.outputs)));
                               }
                               return out;
                             })
      .def_property_readonly(
          "subgraphs",
          [](const TfliteFile& f) {
            py::list out;
            for (const auto& g : f.model.subgraphs) {
              py::dict d;
              d["name"] = py::bytes(g.name);
              py::list tensors;
              for (const auto& t : g.tensors) tensors.append(tflite_tensor_dict(t));
              d["tensors"] = tensors;
              d["inputs"] = int_list(g.inputs);
              d["outputs"] = int_list(g.outputs);
              py::list ops;
              for (const auto& op : g.operators) {
                ops.append(py::make_tuple(op.opcode_index, int_list(op.inputs), int_list(op.outputs)));
              }
              d["operators"] = ops;
              out.append(d);
            }
            return out;
          })
      .def(
          "buffer",
          [](const TfliteFile& f, size_t index) -> py::object {
            // The buffer's bytes: a read-only view of the mapped file, or a
            // new array when the file is not mapped.
            if (index >= f.model.buffers.size()) throw py::index_error("no such buffer");
            const TfliteBuffer& b = f.model.buffers[index];
            const std::string_view data = f.bytes().substr(static_cast<size_t>(b.offset), static_cast<size_t>(b.size));
            if (f.file->mapped()) return readonly_bytes(f.file, data);
            py::array_t<uint8_t> out(static_cast<py::ssize_t>(data.size()));
            if (!data.empty()) std::memcpy(out.mutable_data(), data.data(), data.size());
            return std::move(out);
          },
          py::arg("index"), "A buffer's bytes (read-only, zero-copy when the file is mapped).");

  py::class_<PyGraphScanner>(m, "GraphScanner")
      .def(py::init([](const std::string& path, const std::vector<uint32_t>& path_to_graph) {
             return new PyGraphScanner{GraphScanner(path, path_to_graph), {}, false};
           }),
           py::arg("path"), py::arg("path_to_graph") = std::vector<uint32_t>{})
      .def(
          "next",
          [](PyGraphScanner& s) -> py::object {
            {
              py::gil_scoped_release release;
              s.has_node = s.scanner.next(&s.node);
            }
            if (!s.has_node) return py::none();
            const GraphNode& n = s.node;
            py::list inputs;
            for (auto i : n.inputs) inputs.append(py::str(i.data(), i.size()));
            return py::make_tuple(py::str(n.name.data(), n.name.size()), py::str(n.op.data(), n.op.size()), inputs,
                                  py::str(n.device.data(), n.device.size()),
                                  py::str(n.function.data(), n.function.size()), n.dtype_attr, !n.value_tensor.empty());
          },
          "(name, op, inputs, device, function, dtype attr, has value attr) of the next node, or None.")
      .def(
          "value",
          [](PyGraphScanner& s, bool copy) {
            if (!s.has_node || s.node.value_tensor.empty()) throw py::value_error("the current node has no value");
            TensorValue t;
            try {
              t = decode_tensor_proto(s.node.value_tensor);
            } catch (const DataLoss& e) {
              throw DataLoss(s.scanner.path() + ": node '" + std::string(s.node.name) + "': " + e.what());
            }
            return tensor_value_tuple(t, s.scanner.file(), copy);
          },
          py::arg("copy") = false, "The current node's 'value' tensor as (dtype, shape, kind, payload).");

  py::class_<BundleReader>(m, "BundleReader")
      .def(py::init([](const std::string& prefix) {
             py::gil_scoped_release release;
             return std::make_unique<BundleReader>(prefix);
           }),
           py::arg("prefix"))
      .def_property_readonly("prefix", &BundleReader::prefix)
      .def_property_readonly("index_path", &BundleReader::index_path)
      .def_property_readonly("num_shards", [](const BundleReader& r) { return r.header().num_shards; })
      .def_property_readonly("big_endian", [](const BundleReader& r) { return r.header().big_endian; })
      .def_property_readonly(
          "verbatim", [](const BundleReader& r) { return !r.header().big_endian; },
          "Payloads can be viewed and copied as stored (little-endian).")
      .def_property_readonly("version",
                             [](const BundleReader& r) {
                               return py::make_tuple(r.header().producer, r.header().min_consumer,
                                                     r.header().bad_consumers);
                             })
      .def("data_path", &BundleReader::data_path)
      .def(
          "keys",
          [](const BundleReader& r, bool include_hidden) {
            GcPause pause;
            py::list out;
            for (size_t i = 0; i < r.num_entries(); i++) {
              if (!include_hidden && r.hidden(i)) continue;
              py::str key = key_str(r.key(i));
              if (PyList_Append(out.ptr(), key.ptr()) != 0) throw py::error_already_set();
            }
            return out;
          },
          py::arg("include_hidden") = false)
      .def("contains",
           [](const BundleReader& r, py::handle key) {
             if (!PyUnicode_Check(key.ptr()) && !PyBytes_Check(key.ptr())) return false;
             return r.contains(key_bytes(key));
           })
      .def(
          "info",
          [](const BundleReader& r, py::handle key) {
            const BundleEntry& e = r.get(key_bytes(key));
            return py::make_tuple(e.dtype, shape_tuple(e.shape), !e.slices.empty());
          },
          "(dtype enum, shape, partitioned)")
      .def(
          "entry",
          [](const BundleReader& r, py::handle key) {
            const BundleEntry& e = r.get(key_bytes(key));
            py::dict d;
            d["dtype"] = e.dtype;
            d["shape"] = shape_tuple(e.shape);
            d["shard_id"] = e.shard_id;
            d["offset"] = e.offset;
            d["size"] = e.size;
            d["crc32c"] = e.has_crc ? py::object(py::int_(e.masked_crc)) : py::object(py::none());
            py::list slices;
            for (const auto& s : e.slices) slices.append(extents_list(s));
            d["slices"] = slices;
            return d;
          },
          "The raw BundleEntryProto fields of a key, as a dict.")
      .def(
          "shape_map",
          [](const BundleReader& r) {
            return entry_dict(r, [&r](size_t i) { return new_shape_list(r.dims(i), r.rank(i)); });
          },
          "{key: shape as a list}, as tf.train's reader returns it.")
      .def("dtype_map",
           [](const BundleReader& r) { return entry_dict(r, [&r](size_t i) { return PyLong_FromLong(r.dtype(i)); }); })
      .def(
          "slices",
          [](const BundleReader& r, py::handle key) {
            const std::string name = key_bytes(key);
            const BundleEntry& e = r.get(name);
            py::list out;
            for (const auto& s : e.slices)
              out.append(py::make_tuple(extents_list(s), key_str(encode_slice_key(name, s))));
            return out;
          },
          "[(extents, slice key)] of a partitioned variable.")
      .def("checked_size",
           [](const BundleReader& r, py::handle key) {
             const std::string k = key_bytes(key);
             py::gil_scoped_release release;
             return r.checked_size(k);
           })
      .def(
          "read_tensor",
          [](const BundleReader& r, py::handle key, bool verify) -> py::object {
            // One call for the common case (a fixed-size, unpartitioned,
            // little-endian tensor with a registered dtype): 20 000 small
            // tensors read through five Python-level calls each cost 3x
            // TensorFlow's time. Anything else returns None.
            const size_t i = r.find(key_bytes(key));
            py::object dtype = registered_dtype(r.dtype(i));
            if (r.partitioned(i) || r.header().big_endian || dtype.is_none()) return py::none();
            const FixedPayload p = r.fixed_payload(i);
            ReadAhead* ahead = r.read_ahead();
            if (ahead != nullptr && ahead->eligible(i)) {
              std::optional<Buffer> taken;
              {
                py::gil_scoped_release release;
                taken = ahead->take(i, verify);
              }
              if (taken) return array_over(*taken, py::reinterpret_borrow<py::dtype>(dtype), array_shape(r, i));
            }
            py::array out = allocate_array(py::reinterpret_borrow<py::dtype>(dtype), array_shape(r, i), p.size);
            void* data = out.mutable_data();
            {
              py::gil_scoped_release release;
              r.read_payload(i, p, data, p.size, verify);
            }
            return std::move(out);
          },
          py::arg("key"), py::arg("verify") = true,
          "A new array holding a fixed-size tensor, or None where the caller must assemble it.")
      .def(
          "read_many",
          [](const BundleReader& r, const py::list& keys, bool verify) {
            // {key: new array} for every key read_tensor would read, all read
            // in one batch over the thread pool; other keys are left out.
            py::dict out;
            if (r.header().big_endian) return out;
            std::vector<ReadRequest> requests;
            std::vector<FixedPayload> payloads;
            for (auto key : keys) {
              const size_t i = r.find(key_bytes(key));
              py::object dtype = registered_dtype(r.dtype(i));
              if (r.partitioned(i) || dtype.is_none()) continue;
              const size_t n = r.fixed_payload(i).size;
              py::array a = allocate_array(py::reinterpret_borrow<py::dtype>(dtype), array_shape(r, i), n);
              requests.push_back(ReadRequest{i, a.mutable_data(), n});
              out[key] = a;
            }
            {
              py::gil_scoped_release release;
              r.read_batch(requests, verify);
            }
            return out;
          },
          py::arg("keys"), py::arg("verify") = true)
      .def(
          "read_into",
          [](const BundleReader& r, py::handle key, const py::buffer& dst, bool verify) {
            const std::string k = key_bytes(key);
            py::buffer_info info = writable_buffer(dst);
            py::gil_scoped_release release;
            r.read_into(k, info.ptr, static_cast<size_t>(info.size * info.itemsize), verify);
          },
          py::arg("key"), py::arg("dst"), py::arg("verify") = true)
      .def(
          "read_statistics",
          [](const BundleReader& r, py::handle key, bool verify) -> py::object {
            const std::string k = key_bytes(key);
            const size_t i = r.find(k);
            if (r.partitioned(i) || !stats_supported(r.dtype(i))) return py::none();
            TensorStats stats;
            {
              py::gil_scoped_release release;
              stats = r.read_stats(k, verify);
            }
            return stats_tuple(stats);
          },
          py::arg("key"), py::arg("verify") = true,
          "(count, nan, inf, min, max, mean, m2, sumsq) taken while reading, or None (strings, slices).")
      .def_static(
          "from_index",
          [](const std::string& prefix, const py::bytes& index) {
            const std::string bytes = index;
            py::gil_scoped_release release;
            return BundleReader::from_index(prefix, bytes);
          },
          py::arg("prefix"), py::arg("index"),
          "A bundle from fetched index bytes; its payloads are fetched by the caller (payload_range, read_fetched).")
      .def(
          "payload_range",
          [](const BundleReader& r, py::handle key) {
            const PayloadRange p = r.payload_range(key_bytes(key));
            return py::make_tuple(p.shard_id, p.offset, p.size);
          },
          py::arg("key"), "(shard_id, offset, size) of a non-partitioned entry's payload, checked.")
      .def(
          "read_fetched",
          [](const BundleReader& r, py::handle key, const py::buffer& src, const py::buffer& dst, bool verify) {
            const std::string k = key_bytes(key);
            py::buffer_info in = src.request();
            py::buffer_info out = writable_buffer(dst);
            py::gil_scoped_release release;
            r.read_fetched(
                k, std::string_view(static_cast<const char*>(in.ptr), static_cast<size_t>(in.size * in.itemsize)),
                out.ptr, static_cast<size_t>(out.size * out.itemsize), verify);
          },
          py::arg("key"), py::arg("src"), py::arg("dst"), py::arg("verify") = true,
          "Checks fetched payload bytes of a fixed-size entry and copies them into dst, as read_into.")
      .def(
          "read_fetched_strings",
          [](const BundleReader& r, py::handle key, const py::bytes& src, bool verify) {
            const std::string k = key_bytes(key);
            std::string bytes = src;
            StringTensor t;
            {
              py::gil_scoped_release release;
              t = r.read_fetched_strings(k, std::move(bytes), verify);
            }
            return bytes_list(t);
          },
          py::arg("key"), py::arg("src"), py::arg("verify") = true,
          "The elements of a string or variant entry from fetched payload bytes, as read_strings.")
      .def("view",
           [](const BundleReader& r, py::handle key) {
             TensorView v = r.view(key_bytes(key));
             return readonly_bytes(std::move(v.owner), v.bytes);
           })
      .def(
          "copy_entry_to",
          [](const BundleReader& r, py::handle key, BundleWriter& w, py::handle new_key, int32_t shard) {
            // Appends the entry's payload verbatim to w, checksum verified on the way.
            const std::string k = key_bytes(key);
            const std::string nk = key_bytes(new_key);
            if (r.header().big_endian) throw py::value_error("big-endian payloads cannot be copied verbatim");
            py::gil_scoped_release release;
            const BundleEntry& e = r.get(k);
            if (element_size(e.dtype) > 0 && e.size > 0) {  // streamed, read once
              uint64_t offset = 0, size = 0;
              auto file = r.payload_location(k, &offset, &size);
              w.add_from_file(nk, e.dtype, e.shape, *file, offset, static_cast<size_t>(size), e.masked_crc, shard);
              return;
            }
            r.verify(k);  // strings and variants: their checksums need the structure
            std::string buffer;
            TensorView payload = r.raw_payload(k, &buffer);
            w.add_encoded(nk, e.dtype, e.shape, payload.bytes.data(), payload.bytes.size(), e.masked_crc, shard);
          },
          py::arg("key"), py::arg("writer"), py::arg("new_key"), py::arg("shard") = -1,
          "Copies one entry, bytes unchanged and checksum verified, into a writer (optionally to a given shard).")
      .def(
          "read_strings",
          [](const BundleReader& r, py::handle key, bool verify) {
            const std::string k = key_bytes(key);
            StringTensor t;
            {
              py::gil_scoped_release release;
              t = r.read_strings(k, verify);
            }
            return bytes_list(t);
          },
          py::arg("key"), py::arg("verify") = true)
      .def("verify",
           [](const BundleReader& r, py::handle key) {
             const std::string k = key_bytes(key);
             py::gil_scoped_release release;
             r.verify(k);
           })
      .def("verify_files", [](const BundleReader&) {}, "Nothing to do: opening checked every index block.");

  // The V1 reader answers the calls of BundleReader that reading needs, so
  // the Python layer serves both with one code path.
  py::class_<V1Reader>(m, "V1Reader")
      .def(py::init([](std::vector<std::string> files) {
             py::gil_scoped_release release;
             return std::make_unique<V1Reader>(std::move(files));
           }),
           py::arg("files"))
      .def_property_readonly("files", &V1Reader::files)
      .def_property_readonly("num_shards", [](const V1Reader& r) { return r.files().size(); })
      .def_property_readonly("big_endian", [](const V1Reader&) { return false; })
      .def_property_readonly(
          "verbatim", [](const V1Reader&) { return false; },
          "V1 values are protobuf-encoded: never viewed or copied as stored.")
      .def(
          "keys",
          [](const V1Reader& r, bool include_hidden) {
            py::list out;
            for (size_t i = 0; i < r.num_entries(); i++) {
              if (include_hidden || !r.hidden(i)) out.append(key_str(r.key(i)));
            }
            return out;
          },
          py::arg("include_hidden") = false)
      .def("contains",
           [](const V1Reader& r, py::handle key) {
             if (!PyUnicode_Check(key.ptr()) && !PyBytes_Check(key.ptr())) return false;
             return r.position(key_bytes(key)) < r.num_entries();
           })
      .def(
          "info",
          [](const V1Reader& r, py::handle key) {
            const size_t i = r.find(key_bytes(key));
            return py::make_tuple(r.dtype(i), shape_tuple(r.shape(i)), r.partitioned(i));
          },
          "(dtype enum, shape, partitioned)")
      .def(
          "entry",
          [](const V1Reader& r, py::handle key) {
            const size_t i = r.find(key_bytes(key));
            const V1Tensor& t = r.tensor(i);
            int64_t elements = 1;
            for (int64_t d : r.shape(i)) elements *= d;  // checked when the metadata was read
            py::dict d;
            d["dtype"] = r.dtype(i);
            d["shape"] = shape_tuple(r.shape(i));
            d["shard_id"] = r.slice_file(i);
            d["size"] = elements * element_size(r.dtype(i));
            py::list slices;
            if (r.partitioned(i)) {
              for (const V1Slice& s : t.slices) slices.append(extents_list(s.extents));
            }
            d["slices"] = slices;
            return d;
          },
          "dtype, shape, the file index holding it (shard_id), decoded byte size (size; 0 for strings) and "
          "slices of a key, as a dict.")
      .def("shape_map",
           [](const V1Reader& r) {
             return entry_dict(r, [&r](size_t i) { return new_shape_list(r.shape(i).data(), r.shape(i).size()); });
           })
      .def("dtype_map",
           [](const V1Reader& r) { return entry_dict(r, [&r](size_t i) { return PyLong_FromLong(r.dtype(i)); }); })
      .def(
          "slices",
          [](const V1Reader& r, py::handle key) {
            const size_t i = r.find(key_bytes(key));
            py::list out;
            if (!r.partitioned(i)) return out;
            for (const V1Slice& s : r.tensor(i).slices)
              out.append(py::make_tuple(extents_list(s.extents), key_str(s.key)));
            return out;
          },
          "[(extents, slice key)] of a tensor stored in slices.")
      .def("checked_size",
           [](const V1Reader& r, py::handle key) {
             const size_t i = r.find(key_bytes(key));
             py::gil_scoped_release release;
             const V1SliceValue v = r.value(i);  // bounds the element count by the stored bytes
             return static_cast<uint64_t>(v.slice->num_elements) * static_cast<uint64_t>(element_size(r.dtype(i)));
           })
      .def(
          "read_tensor",
          [](const V1Reader& r, py::handle key, bool verify) -> py::object {
            // Block checksums are always checked; V1 has no other checksum.
            const size_t i = r.find(key_bytes(key));
            py::object dtype = registered_dtype(r.dtype(i));
            if (r.partitioned(i) || dtype.is_none()) return py::none();
            V1SliceValue v;
            {
              py::gil_scoped_release release;
              v = r.value(i);
            }
            const auto n = static_cast<size_t>(v.slice->num_elements) * static_cast<size_t>(element_size(r.dtype(i)));
            const std::vector<py::ssize_t> shape(r.shape(i).begin(), r.shape(i).end());
            py::array out = allocate_array(py::reinterpret_borrow<py::dtype>(dtype), shape, n);
            void* data = out.mutable_data();
            {
              py::gil_scoped_release release;
              r.decode_into(v, data, n);
            }
            return std::move(out);
          },
          py::arg("key"), py::arg("verify") = true,
          "A new array holding a fixed-size tensor or slice, or None for strings and partitioned tensors.")
      .def(
          "read_into",
          [](const V1Reader& r, py::handle key, const py::buffer& dst, bool verify) {
            const size_t i = r.find(key_bytes(key));
            py::buffer_info info = writable_buffer(dst);
            py::gil_scoped_release release;
            r.decode_into(r.value(i), info.ptr, static_cast<size_t>(info.size * info.itemsize));
          },
          py::arg("key"), py::arg("dst"), py::arg("verify") = true)
      .def(
          "read_strings",
          [](const V1Reader& r, py::handle key, bool verify) {
            const size_t i = r.find(key_bytes(key));
            V1SliceValue v;
            std::vector<std::string_view> items;
            {
              py::gil_scoped_release release;
              v = r.value(i);
              items = r.decode_strings(v);
            }
            py::list out(items.size());
            for (size_t j = 0; j < items.size(); j++) out[j] = py::bytes(items[j].data(), items[j].size());
            return out;
          },
          py::arg("key"), py::arg("verify") = true)
      .def("verify",
           [](const V1Reader& r, py::handle key) {
             const size_t i = r.find(key_bytes(key));
             py::gil_scoped_release release;
             r.verify(i);
           })
      .def(
          "verify_files",
          [](const V1Reader& r) {
            py::gil_scoped_release release;
            r.verify_files();
          },
          "Checks every block of every file.");

  py::class_<BundleWriter>(m, "BundleWriter")
      .def(py::init<std::string, int32_t>(), py::arg("prefix"), py::arg("num_shards") = 1)
      .def_property_readonly("prefix", &BundleWriter::prefix)
      .def_property_readonly("finished", &BundleWriter::finished)
      .def("data_paths", &BundleWriter::data_paths)
      .def(
          "add",
          [](BundleWriter& w, py::handle key, int32_t dtype, const py::sequence& shape, const py::buffer& data,
             int32_t shard) {
            const std::string k = key_bytes(key);
            const std::vector<int64_t> dims = shape_vector(shape);
            py::buffer_info info = data.request();
            if (!PyBuffer_IsContiguous(info.view(), 'C')) throw py::value_error("tensor data must be C-contiguous");
            py::gil_scoped_release release;
            w.add(k, dtype, dims, info.ptr, static_cast<size_t>(info.size * info.itemsize), shard);
          },
          py::arg("key"), py::arg("dtype"), py::arg("shape"), py::arg("data"), py::arg("shard") = -1)
      .def(
          "add_batch",
          [](BundleWriter& w, const py::list& batch) {
            // (key, dtype, shape, C-contiguous ndarray, shard) tuples; `batch`
            // keeps every array alive. Arrays are read through numpy's own
            // API: the buffer protocol refuses ml_dtypes types (bfloat16...).
            std::vector<BundleWriter::Item> items;
            items.reserve(batch.size());
            for (auto entry : batch) {
              auto t = entry.cast<py::tuple>();
              if (t.size() != 5) throw py::value_error("add_batch takes (key, dtype, shape, data, shard) tuples");
              if (!py::isinstance<py::array>(t[3])) throw py::type_error("add_batch data must be numpy arrays");
              auto data = py::reinterpret_borrow<py::array>(t[3]);
              const bool c_contiguous =
                  data.flags() & py::array::c_style;  // NOLINT(bugprone-signed-bitwise): numpy's int flags
              if (!c_contiguous) throw py::value_error("tensor data must be C-contiguous");
              BundleWriter::Item it;
              it.key = key_bytes(t[0]);
              it.dtype = t[1].cast<int32_t>();
              it.shape = shape_vector(t[2].cast<py::sequence>());
              it.data = data.data();
              it.n = static_cast<size_t>(data.nbytes());
              it.shard = t[4].cast<int32_t>();
              items.push_back(std::move(it));
            }
            py::gil_scoped_release release;
            w.add_batch(items);
          },
          py::arg("batch"), "Adds fixed-size tensors, writing different shards concurrently.")
      .def(
          "add_strings",
          [](BundleWriter& w, py::handle key, const py::sequence& shape, const py::list& items, int32_t shard) {
            const std::string k = key_bytes(key);
            const std::vector<int64_t> dims = shape_vector(shape);
            std::vector<std::string_view> views;
            views.reserve(items.size());
            for (auto item : items) {
              if (!PyBytes_Check(item.ptr())) throw py::type_error("string tensor elements must be bytes");
              views.emplace_back(PyBytes_AS_STRING(item.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(item.ptr())));
            }
            py::gil_scoped_release release;  // `items` keeps the bytes alive
            w.add_strings(k, dims, views, shard);
          },
          py::arg("key"), py::arg("shape"), py::arg("items"), py::arg("shard") = -1)
      .def("add_slice_of",
           [](BundleWriter& w, py::handle name, int32_t dtype, const py::sequence& full_shape,
              const py::sequence& extents) {
             w.add_slice_of(key_bytes(name), dtype, shape_vector(full_shape), extents_from(extents));
           })
      .def(
          "finish",
          [](BundleWriter& w, bool sync) {
            py::gil_scoped_release release;
            w.finish(sync);
          },
          py::arg("sync") = false)
      .def("abort", [](BundleWriter& w) { w.abort(); });
}
