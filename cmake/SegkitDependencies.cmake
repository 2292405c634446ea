# Third-party libraries, all from Debian packages (or official LibTorch via CMAKE_PREFIX_PATH).
find_package(Torch REQUIRED)
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
