# syntax=docker/dockerfile:1
# Build: docker build -t <registry>/checkpoint-operator:v1.0.0 .
# One image holds the dispatcher (/manager) and every Job program (/jobs/<action>).

FROM node:26-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# glibc here: npm ci also installs the Node binary the project carries for development.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsup.config.ts ./
COPY src ./src
RUN npx tsup

FROM node:26-alpine
# Bundles carry their dependencies, so the runtime image needs no node_modules and no npm.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /opt/yarn* \
 && mkdir -p /app /jobs
COPY --from=build /src/dist /app/dist
# Executable entrypoints without a shell: the kernel runs node from the shebang line, and a
# dynamic import() is valid in the CommonJS that Node assumes for extension-less files.
RUN printf '#!/usr/local/bin/node\nimport("/app/dist/manager.js");\n' > /manager && chmod 0755 /manager \
 && for f in /app/dist/jobs/*.js; do \
      [ -e "$f" ] || continue; n=$(basename "$f" .js); \
      printf '#!/usr/local/bin/node\nimport("%s");\n' "$f" > "/jobs/$n" && chmod 0755 "/jobs/$n"; \
    done
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["/manager"]
