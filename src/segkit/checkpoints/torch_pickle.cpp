#include "checkpoints/torch_pickle.h"

#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include "segkit/error.h"

namespace segkit {

namespace {

// What a whitelisted global stands for. Nothing is ever imported: a global is a tag.
enum class GlobalKind { OrderedDict, RebuildTensorV2, RebuildTensorV3, RebuildParameter, StorageType, DTypeValue };

struct GlobalSpec {
  const char* module;
  const char* name;
  GlobalKind kind;
  DType dtype;   // StorageType / DTypeValue
  bool typed;    // StorageType: element type known (false: UntypedStorage, counted in bytes)
};

// torch.save (1.6 .. 2.x) pickles a tensor as _rebuild_tensor_v2(storage, offset, size, stride,
// requires_grad, hooks[, metadata]) whose storage is a persistent id ('storage', torch.<T>Storage,
// key, location, numel): 2.x wraps the untyped storage in a TypedStorage that pickles under its
// legacy class name. Only dtypes without a legacy name (uint16, float8...) use
// _rebuild_tensor_v3(untyped storage counted in bytes, ..., dtype), with storage type
// torch.UntypedStorage (module torch.storage, its defining module).
const GlobalSpec kGlobals[] = {
    {"collections", "OrderedDict", GlobalKind::OrderedDict, DType::F32, false},
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::RebuildTensorV2, DType::F32, false},
    {"torch._utils", "_rebuild_tensor_v3", GlobalKind::RebuildTensorV3, DType::F32, false},
    {"torch._utils", "_rebuild_parameter", GlobalKind::RebuildParameter, DType::F32, false},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalKind::RebuildParameter, DType::F32, false},
    {"torch", "DoubleStorage", GlobalKind::StorageType, DType::F64, true},
    {"torch", "FloatStorage", GlobalKind::StorageType, DType::F32, true},
    {"torch", "HalfStorage", GlobalKind::StorageType, DType::F16, true},
    {"torch", "BFloat16Storage", GlobalKind::StorageType, DType::BF16, true},
    {"torch", "LongStorage", GlobalKind::StorageType, DType::I64, true},
    {"torch", "IntStorage", GlobalKind::StorageType, DType::I32, true},
    {"torch", "ShortStorage", GlobalKind::StorageType, DType::I16, true},
    {"torch", "CharStorage", GlobalKind::StorageType, DType::I8, true},
    {"torch", "ByteStorage", GlobalKind::StorageType, DType::U8, true},
    {"torch", "BoolStorage", GlobalKind::StorageType, DType::BOOL, true},
    {"torch", "UntypedStorage", GlobalKind::StorageType, DType::U8, false},
    {"torch.storage", "UntypedStorage", GlobalKind::StorageType, DType::U8, false},
    {"torch", "float64", GlobalKind::DTypeValue, DType::F64, true},
    {"torch", "float32", GlobalKind::DTypeValue, DType::F32, true},
    {"torch", "float16", GlobalKind::DTypeValue, DType::F16, true},
    {"torch", "bfloat16", GlobalKind::DTypeValue, DType::BF16, true},
    {"torch", "int64", GlobalKind::DTypeValue, DType::I64, true},
    {"torch", "int32", GlobalKind::DTypeValue, DType::I32, true},
    {"torch", "int16", GlobalKind::DTypeValue, DType::I16, true},
    {"torch", "int8", GlobalKind::DTypeValue, DType::I8, true},
    {"torch", "uint8", GlobalKind::DTypeValue, DType::U8, true},
    {"torch", "bool", GlobalKind::DTypeValue, DType::BOOL, true},
};

enum class Kind { None, Bool, Int, BigInt, Float, String, Bytes, Tuple, List, Dict, Set, Global, Storage, Tensor };

// Values live in an arena owned by the interpreter and point at each other with raw pointers:
// no recursion or reference cycles on destruction, whatever the pickle builds.
struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;          // Bool, Int
  std::string s;          // String, Bytes, Global ("module.name")
  std::vector<Value*> items;                      // Tuple, List, Set
  std::vector<std::pair<Value*, Value*>> entries;  // Dict
  const GlobalSpec* global = nullptr;             // Global
  PickledTensor tensor;                           // Storage (key, bytes, dtype) and Tensor
  bool typed = true;                              // Storage
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

class Interpreter {
 public:
  Interpreter(const uint8_t* data, size_t size, const std::string& context) : p_(data), n_(size), ctx_(context) {}

  Value* run() {
    for (;;) {
      const uint8_t op = byte();
      if (op == '.') {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) bad("STOP with a stack of " + std::to_string(stack_.size()));
        return stack_.back();
      }
      step(op);
    }
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(ctx_, "malformed pickle at byte " + std::to_string(pos_) + " (" + what + ")");
  }

  // ---- input -------------------------------------------------------------------------
  const uint8_t* take(uint64_t len) {
    if (len > n_ - pos_) fail(ctx_, "truncated pickle (data.pkl ends inside an opcode)");
    const uint8_t* at = p_ + pos_;
    pos_ += len;
    return at;
  }
  uint8_t byte() { return *take(1); }
  uint64_t uint_le(int bytes) {
    const uint8_t* b = take(bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::string str(uint64_t len) {
    const uint8_t* b = take(len);
    return std::string(reinterpret_cast<const char*>(b), len);
  }
  std::string line() {
    const uint8_t* start = p_ + pos_;
    const void* nl = std::memchr(start, '\n', n_ - pos_);
    if (!nl) fail(ctx_, "truncated pickle (unterminated GLOBAL name)");
    const size_t len = static_cast<const uint8_t*>(nl) - start;
    pos_ += len + 1;
    return std::string(reinterpret_cast<const char*>(start), len);
  }

  // ---- values and stack --------------------------------------------------------------
  Value* make(Kind k) {
    arena_.emplace_back();
    arena_.back().kind = k;
    return &arena_.back();
  }
  Value* make_int(int64_t v, Kind k = Kind::Int) {
    Value* x = make(k);
    x->i = v;
    return x;
  }
  void push(Value* v) { stack_.push_back(v); }
  Value* pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) bad("pop from an empty stack");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) bad("empty stack");
    return stack_.back();
  }
  // The items pushed since the last MARK, removing them and the mark.
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) bad("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Value* tuple(std::vector<Value*> items) {
    Value* t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  Value* expect(Value* v, Kind k, const char* what) {
    if (v->kind != k) bad(std::string(what) + " is a " + kind_name(v->kind) + ", expected " + kind_name(k));
    return v;
  }
  void set_items(Value* dict, const std::vector<Value*>& kv) {
    expect(dict, Kind::Dict, "SETITEM target");
    if (kv.size() % 2) bad("odd number of SETITEMS arguments");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  Value* memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) bad("memo entry " + std::to_string(index) + " is missing");
    return it->second;
  }

  Value* global(const std::string& module, const std::string& name) {
    for (const GlobalSpec& g : kGlobals) {
      if (module == g.module && name == g.name) {
        Value* v = make(Kind::Global);
        v->global = &g;
        v->s = module + "." + name;
        return v;
      }
    }
    fail(ctx_, "refusing to load pickle global " + module + "." + name + " (only tensor state dicts are supported)");
  }

  // ---- the step function -------------------------------------------------------------
  void step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t proto = byte();
        if (proto > 5) bad("unknown pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95: take(8); break;                    // FRAME: framing is transparent
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                       // POP
      case '1': pop_mark(); break;                  // POP_MARK
      case '2': push(top()); break;                 // DUP
      case 'N': push(make(Kind::None)); break;
      case 0x88: push(make_int(1, Kind::Bool)); break;  // NEWTRUE
      case 0x89: push(make_int(0, Kind::Bool)); break;  // NEWFALSE
      case 'J': push(make_int(static_cast<int32_t>(uint_le(4)))); break;  // BININT
      case 'K': push(make_int(byte())); break;                            // BININT1
      case 'M': push(make_int(static_cast<int64_t>(uint_le(2)))); break;  // BININT2
      case 0x8a: push_long(byte()); break;                                // LONG1
      case 0x8b: push_long(uint_le(4)); break;                            // LONG4
      case 'G': {                                                         // BINFLOAT (big-endian)
        const uint8_t* b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
        Value* v = make(Kind::Float);
        v->i = static_cast<int64_t>(bits);
        push(v);
        break;
      }
      case 'X': push_string(Kind::String, uint_le(4)); break;     // BINUNICODE
      case 0x8c: push_string(Kind::String, byte()); break;        // SHORT_BINUNICODE
      case 0x8d: push_string(Kind::String, uint_le(8)); break;    // BINUNICODE8
      case 'T': push_string(Kind::String, uint_le(4)); break;     // BINSTRING
      case 'U': push_string(Kind::String, byte()); break;         // SHORT_BINSTRING
      case 'B': push_string(Kind::Bytes, uint_le(4)); break;      // BINBYTES
      case 'C': push_string(Kind::Bytes, byte()); break;          // SHORT_BINBYTES
      case 0x8e: push_string(Kind::Bytes, uint_le(8)); break;     // BINBYTES8
      case ')': push(tuple({})); break;                           // EMPTY_TUPLE
      case 't': push(tuple(pop_mark())); break;                   // TUPLE
      case 0x85: { Value* a = pop(); push(tuple({a})); break; }   // TUPLE1
      case 0x86: { Value* b = pop(); Value* a = pop(); push(tuple({a, b})); break; }  // TUPLE2
      case 0x87: {                                                                      // TUPLE3
        Value* c = pop(); Value* b = pop(); Value* a = pop();
        push(tuple({a, b, c}));
        break;
      }
      case ']': push(make(Kind::List)); break;  // EMPTY_LIST
      case 'l': {                               // LIST
        Value* l = make(Kind::List);
        l->items = pop_mark();
        push(l);
        break;
      }
      case 'a': { Value* v = pop(); expect(top(), Kind::List, "APPEND target")->items.push_back(v); break; }
      case 'e': {  // APPENDS
        std::vector<Value*> items = pop_mark();
        Value* l = expect(top(), Kind::List, "APPENDS target");
        l->items.insert(l->items.end(), items.begin(), items.end());
        break;
      }
      case '}': push(make(Kind::Dict)); break;  // EMPTY_DICT
      case 'd': {                               // DICT
        Value* d = make(Kind::Dict);
        set_items(d, pop_mark());
        push(d);
        break;
      }
      case 's': { Value* v = pop(); Value* k = pop(); set_items(top(), {k, v}); break; }  // SETITEM
      case 'u': { std::vector<Value*> kv = pop_mark(); set_items(top(), kv); break; }    // SETITEMS
      case 0x8f: push(make(Kind::Set)); break;  // EMPTY_SET
      case 0x90: {                              // ADDITEMS
        std::vector<Value*> items = pop_mark();
        Value* s = expect(top(), Kind::Set, "ADDITEMS target");
        s->items.insert(s->items.end(), items.begin(), items.end());
        break;
      }
      case 0x91: { Value* s = make(Kind::Set); s->items = pop_mark(); push(s); break; }  // FROZENSET
      case 'q': memo_put(byte()); break;            // BINPUT
      case 'r': memo_put(uint_le(4)); break;        // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;     // MEMOIZE
      case 'h': push(memo_get(byte())); break;      // BINGET
      case 'j': push(memo_get(uint_le(4))); break;  // LONG_BINGET
      case 'c': {                                   // GLOBAL
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = expect(pop(), Kind::String, "STACK_GLOBAL name");
        Value* module = expect(pop(), Kind::String, "STACK_GLOBAL module");
        push(global(module->s, name->s));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      case 'R': {                                     // REDUCE
        Value* args = expect(pop(), Kind::Tuple, "REDUCE arguments");
        Value* callable = pop();
        push(call(callable, args->items));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args); only OrderedDict can get here
        Value* args = expect(pop(), Kind::Tuple, "NEWOBJ arguments");
        Value* cls = pop();
        if (cls->kind != Kind::Global || cls->global->kind != GlobalKind::OrderedDict)
          bad("NEWOBJ of something other than OrderedDict");
        push(call(cls, args->items));
        break;
      }
      case 'b':  // BUILD: object state (e.g. a state dict's _metadata) is irrelevant to us
        pop();
        top();
        break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(ctx_, std::string("unsupported pickle opcode ") + hex + " at byte " + std::to_string(pos_ - 1) +
                       " (only tensor state dicts are supported)");
      }
    }
  }

  void push_long(uint64_t len) {
    const uint8_t* b = take(len);
    if (len > 8) {  // too big for us; only ever meaningful as an ignored value
      push(make(Kind::BigInt));
      return;
    }
    uint64_t v = 0;
    for (uint64_t i = len; i-- > 0;) v = (v << 8) | b[i];
    if (len > 0 && len < 8 && (b[len - 1] & 0x80)) v |= ~uint64_t(0) << (8 * len);  // sign-extend
    push(make_int(static_cast<int64_t>(v)));
  }

  void push_string(Kind k, uint64_t len) {
    Value* v = make(k);
    v->s = str(len);
    push(v);
  }

  // torch.save's persistent ids: ('storage', storage type, key, location, numel).
  Value* persistent_load(Value* pid) {
    expect(pid, Kind::Tuple, "persistent id");
    const auto& it = pid->items;
    if (it.size() != 5 || it[0]->kind != Kind::String || it[0]->s != "storage")
      bad("persistent id is not a torch storage record");
    Value* type = it[1];
    if (type->kind != Kind::Global || type->global->kind != GlobalKind::StorageType)
      bad("storage record without a storage type");
    if (it[2]->kind != Kind::String) bad("storage key is not a string");
    if (it[4]->kind != Kind::Int || it[4]->i < 0) bad("storage size is not a non-negative integer");
    const uint64_t elem = dtype_size(type->global->dtype);
    const uint64_t numel = static_cast<uint64_t>(it[4]->i);
    if (numel > (uint64_t(1) << 62) / elem) bad("storage size is impossibly large");
    Value* s = make(Kind::Storage);
    s->tensor.dtype = type->global->dtype;
    s->typed = type->global->typed;
    s->tensor.storage_key = it[2]->s;
    s->tensor.storage_bytes = numel * elem;
    return s;
  }

  std::vector<int64_t> int_tuple(Value* v, const char* what) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List) bad(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (Value* x : v->items) {
      if (x->kind != Kind::Int) bad(std::string(what) + " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  Value* call(Value* callable, const std::vector<Value*>& args) {
    if (callable->kind != Kind::Global) bad("call of a " + std::string(kind_name(callable->kind)));
    const GlobalSpec& g = *callable->global;
    switch (g.kind) {
      case GlobalKind::OrderedDict:
        // torch writes OrderedDict() and then SETITEMS; building from an argument list is not
        // needed and would let a small pickle copy one big list many times over.
        if (!args.empty()) bad("OrderedDict with arguments");
        return make(Kind::Dict);
      case GlobalKind::RebuildTensorV2:
      case GlobalKind::RebuildTensorV3: {
        const bool v3 = g.kind == GlobalKind::RebuildTensorV3;
        if (args.size() < (v3 ? 7u : 4u)) bad(callable->s + " with too few arguments");
        Value* storage = expect(args[0], Kind::Storage, "tensor storage");
        if (args[1]->kind != Kind::Int) bad("tensor storage offset is not an integer");
        Value* t = make(Kind::Tensor);
        t->tensor = storage->tensor;
        if (v3) {
          Value* dt = args[6];
          if (dt->kind != Kind::Global || dt->global->kind != GlobalKind::DTypeValue)
            bad("tensor dtype is not a supported torch dtype");
          t->tensor.dtype = dt->global->dtype;
        } else if (!storage->typed) {
          bad("_rebuild_tensor_v2 of an untyped storage");
        }
        t->tensor.storage_offset = args[1]->i;
        t->tensor.shape = int_tuple(args[2], "tensor size");
        t->tensor.strides = int_tuple(args[3], "tensor stride");
        if (t->tensor.shape.size() != t->tensor.strides.size()) bad("tensor size and stride differ in length");
        return t;
      }
      case GlobalKind::RebuildParameter:
        if (args.empty() || args[0]->kind != Kind::Tensor) bad("parameter without a tensor");
        return args[0];
      case GlobalKind::StorageType:
      case GlobalKind::DTypeValue:
        break;
    }
    bad("call of " + callable->s);
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& ctx_;
  std::deque<Value> arena_;  // deque: stable addresses
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
};

bool has_tensor(const Value* dict) {
  for (const auto& kv : dict->entries)
    if (kv.second->kind == Kind::Tensor) return true;
  return false;
}

// The dict of tensors: the pickle's top-level dict, or one level down under the keys that
// training scripts use for the model weights.
const Value* find_state_dict(const Value* root) {
  if (root->kind != Kind::Dict) return nullptr;
  if (has_tensor(root)) return root;
  for (const char* key : {"state_dict", "model", "model_state_dict"}) {
    for (const auto& kv : root->entries) {
      if (kv.first->kind == Kind::String && kv.first->s == key && kv.second->kind == Kind::Dict &&
          has_tensor(kv.second))
        return kv.second;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<std::pair<std::string, PickledTensor>> read_torch_state_dict_pickle(const uint8_t* data, size_t size,
                                                                               const std::string& context) {
  Interpreter interpreter(data, size, context);
  const Value* root = interpreter.run();
  const Value* dict = find_state_dict(root);
  if (!dict)
    fail(context, std::string("no state dict of tensors found (the checkpoint holds a ") + kind_name(root->kind) +
                      "; expected a dict of tensors, possibly under \"model\" or \"state_dict\")");
  // Later assignments to a key win, as in Python.
  std::map<std::string, const Value*> by_name;
  std::vector<std::string> order;
  for (const auto& kv : dict->entries) {
    if (kv.first->kind != Kind::String || kv.second->kind != Kind::Tensor) continue;
    if (by_name.emplace(kv.first->s, kv.second).second) order.push_back(kv.first->s);
    else by_name[kv.first->s] = kv.second;
  }
  std::vector<std::pair<std::string, PickledTensor>> out;
  out.reserve(order.size());
  for (const std::string& name : order) out.emplace_back(name, by_name[name]->tensor);
  return out;
}

}  // namespace segkit
