# One image for every role: the compose file picks `pnpm start:relay`, `start:worker` or `emulator`.
FROM node:20-bookworm-slim
RUN npm install -g --loglevel=error pnpm@10.34.8
WORKDIR /app
COPY . .
# `prepare` compiles the TypeScript during install.
RUN pnpm install --frozen-lockfile && pnpm store prune
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
CMD ["pnpm", "start"]
