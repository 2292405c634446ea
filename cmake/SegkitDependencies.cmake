# Third-party libraries, all from Debian packages (or official LibTorch via CMAKE_PREFIX_PATH).
find_package(Torch REQUIRED)
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "LibTorch at ${Torch_DIR} uses the old libstdc++ ABI (PyTorch wheels before 2.7), "
                      "Debian's OpenCV, cpp-httplib and GoogleTest the new one: use LibTorch 2.7 or later, "
                      "a cxx11-abi LibTorch archive, or -DSEGKIT_GPU_KIT=ON (docs/cuda.md)")
endif()
find_package(nlohmann_json 3.9 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(Threads REQUIRED)
# libjpeg(-turbo) directly for JPEG: OpenCV's decoder prints libjpeg's warnings and hides damage.
find_package(JPEG REQUIRED)
include(FindSegkitOpenCV)
include(FindSegkitHttplib)
include(FindSegkitDnnl)
include(FindSegkitOpenMP)
include(FindSegkitDistributed)
